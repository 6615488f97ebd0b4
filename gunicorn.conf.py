# gunicorn reads this file from the directory it starts in (the repository, /app in the image):
# its access log redacts credentials in URLs (answer links, calendar feed tokens) and never shows
# an Authorization header (shared/logs.py). docker-compose.yml also names the class explicitly.
logger_class = "shared.logs.GunicornLogger"
