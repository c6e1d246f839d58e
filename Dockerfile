FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/baoxue.db
WORKDIR /app
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
ENV BAOXUE_HOST=0.0.0.0
EXPOSE 8080
CMD ["sh", "-c", "baoxue db upgrade && baoxue run"]
