# Production only: the bot on Telegram (`baoxue run`), never the sandbox. It refuses to
# start without BOT_TOKEN and ENCRYPTION_KEY (pass both at `docker run`, never bake them in).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    BAOXUE_ENV=production \
    DATABASE_URL=sqlite:////data/baoxue.db
WORKDIR /app
# a CJK font for the PDFs the bot generates
RUN apt-get update -q && apt-get install -y -q --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md babel.cfg ./
COPY bot ./bot
COPY cli ./cli
COPY demo ./demo
COPY documents ./documents
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
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin baoxue \
    && mkdir -p /data && chown baoxue:baoxue /data && chmod 0700 /data
# the volume holds the database only: the working directory stays /app (read-only to the
# bot's user), so no .env and no key file is ever read from or written next to the data
VOLUME ["/data"]
USER baoxue
# HOST/PORT: /healthz (and the webhook with WEBHOOK_URL)
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=4)"]
CMD ["baoxue", "run"]
