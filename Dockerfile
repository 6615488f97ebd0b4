# One image for every service and worker; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY shared shared
COPY services services
COPY embedded embedded
COPY examples examples
COPY gunicorn.conf.py .
RUN useradd --system ocop && mkdir -p /app/var && chown ocop /app/var
USER ocop
