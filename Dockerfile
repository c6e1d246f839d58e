FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/baoxue.db
WORKDIR /app
# a CJK font for the PDFs the bot generates
RUN apt-get update -q && apt-get install -y -q --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md babel.cfg ./
COPY bot ./bot
COPY handlers ./handlers
COPY conversations ./conversations
COPY casework ./casework
COPY models ./models
COPY web ./web
COPY sandbox ./sandbox
COPY locales ./locales
RUN pip install --no-cache-dir babel==2.18.0 \
    && pybabel compile -d locales \
    && pip install --no-cache-dir . \
    && mkdir -p /data
VOLUME ["/data"]
WORKDIR /data
# with no BOT_TOKEN: the sandbox; with BOT_TOKEN (and WEBHOOK_URL): the bot
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
CMD ["baoxue", "run"]
