"""The preview origin: what a student's published port serves, seen in a browser tab.

Everything a student's container serves is hostile content, so it is never served from
Muelle's own origin: each (student, port) gets a host of its own under PREVIEW_HOST
(`8080-<id>.vista.localhost` locally), which shares no cookies with Muelle's pages. The web
process routes by Host (tutorial/asgi.py) before Django or Channels see the request. See
docs/ports.md.
"""
