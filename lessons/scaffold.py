"""A new lesson that already passes check_lessons and verify_solutions, for `new_lesson`.

The instructor starts from something that works (front matter, a runnable block, one exercise
with a check, a hint and a reference solution) and changes it, instead of from a blank page.
"""

from __future__ import annotations

import re
import unicodedata

from lessons import frontmatter

TEMPLATE = """\
---
titulo: {title}
slug: {slug}
orden: {order}
resumen: Una o dos frases que digan qué aprende quien hace esta lección.
nivel: básico
duracion: 15
objetivos:
- Primer objetivo, con un verbo que se pueda comprobar (crear, ejecutar, explicar…)
ejercicios:
  - id: primer-ejercicio
    titulo: Un archivo en tu carpeta
    enunciado: |
      Crea el archivo `~/saludo.txt` con la palabra «hola» dentro.

      ```bash ejecutable
      echo hola > ~/saludo.txt
      ```
    comprobaciones:
      - tipo: archivo
        ruta: ~/saludo.txt
        contiene: hola
        ok: "~/saludo.txt existe y dice «hola»."
        error: "No encontramos ~/saludo.txt con «hola» dentro."
    pista: Usa `echo hola > ~/saludo.txt` en la terminal.
    solucion: |
      ```bash
      echo hola > ~/saludo.txt
      ```
    solucion_comandos:
      - echo hola > ~/saludo.txt
---

## Qué vas a hacer

Explica aquí, de tú y en pocas palabras, qué va a hacer quien lee. Cada término nuevo se explica
la primera vez que aparece.

```bash ejecutable
docker version
```

Consulta docs/lessons.md (formato) y docs/exercises.md (ejercicios y comprobaciones). Cuando
termines, comprueba la lección con `python manage.py check_lessons {slug}` y sus soluciones con
`python manage.py verify_solutions {slug}`.
"""


def slugify(title: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[: frontmatter.SLUG_MAX_LENGTH].rstrip("-")


def lesson_text(title: str, slug: str, order: int) -> str:
    quoted_title = title.replace("'", "''")
    return TEMPLATE.format(title=f"'{quoted_title}'", slug=slug, order=order)
