"""`tutor serve` and what it needs: logins, the server, the teacher's roster.

Imports here stay light: `tutor class` and `tutor passwd` load users.py and roster.py
without aiohttp; only server.py and auth.py import the web stack.
"""
