# Muelle: prompt and small comforts for every interactive bash (sourced by /etc/bash.bashrc).
case $- in *i*) ;; *) return ;; esac
PS1='\[\e[1;32m\]\u@\h\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ '
alias ls='ls --color=auto'
alias ll='ls -l --color=auto'
alias grep='grep --color=auto'
HISTSIZE=1000
