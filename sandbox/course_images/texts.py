"""What the course images say (Spanish, for students)."""

from __future__ import annotations

HOLA = """
¡Hola desde Muelle!

Si lees esto, Docker funciona. Esto es lo que acaba de pasar:

 1. Tu cliente `docker` pidió al motor de Docker que ejecutara la imagen muelle/hola.
 2. El motor ya tenía esa imagen (en Muelle las imágenes del curso ya están aquí, no se
    descargan de ningún registro).
 3. El motor creó un contenedor a partir de la imagen: un proceso aislado con su propio
    sistema de ficheros, que ha ejecutado el programa que escribe este texto.
 4. El motor te ha enviado lo que el contenedor escribía, y tu terminal lo muestra.

El contenedor ya ha terminado. Míralo con:
 $ docker ps -a

Para algo más ambicioso, abre un intérprete de órdenes dentro de un contenedor:
 $ docker run -it muelle/busybox sh
"""

WEB_INDEX = """<!doctype html>
<html lang="es">
<head><meta charset="utf-8"><title>Muelle: servidor web</title></head>
<body>
<h1>¡Funciona!</h1>
<p>Esta página la sirve un contenedor de la imagen <code>muelle/web</code>.</p>
</body>
</html>
"""
