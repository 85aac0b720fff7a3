"""A Django REST framework SimpleJWT project whose tokens are revoked in Redis (access
tokens included), with a logout traced end to end. See README.md's "Django REST framework
SimpleJWT" section; ``python examples/django_logout_app/demo.py`` runs it on a private
redis-server and prints the trace."""
