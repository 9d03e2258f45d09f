# The crossbound worker image: docker build -t crossbound . && docker run --rm crossbound --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the wheel needs (see .dockerignore): pyproject.toml, README.md, src/, schemas/, rulesets/,
# examples/.
COPY . /tmp/crossbound-src
RUN pip install /tmp/crossbound-src && rm -rf /tmp/crossbound-src

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/crossbound --create-home \
        --shell /usr/sbin/nologin crossbound
USER 10001:10001
# Faust keeps its table state under the working directory.
WORKDIR /var/lib/crossbound

EXPOSE 9464
ENTRYPOINT ["crossbound"]
CMD ["--help"]
