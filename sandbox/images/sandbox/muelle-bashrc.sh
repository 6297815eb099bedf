# Muelle: prompt and small comforts for every interactive bash (sourced by /etc/bash.bashrc).
case $- in *i*) ;; *) return ;; esac
# Shell integration marks (OSC 133, as terminals such as VS Code's read them): A where a prompt
# starts, C where a command starts running. The page reads them to know whether the shell has
# the terminal: «Ejecutar» must not type a lesson's command into a program still running there
# (static/sandbox/terminal/main.js). A terminal that does not know them ignores them.
PS1='\[\e]133;A\a\]\[\e[1;32m\]\u@\h\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ '
PS0='\e]133;C\a'
alias ls='ls --color=auto'
alias ll='ls -l --color=auto'
alias grep='grep --color=auto'
HISTSIZE=1000
