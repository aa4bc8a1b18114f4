# ganscope on CPU: the dashboard on port 8050, installed and started by the same make targets a
# developer uses (`make install`, `make run`), so the image cannot drift from the README.
FROM python:3.11-slim-bookworm

# torch's default wheels on PyPI pull gigabytes of CUDA libraries; the CPU index has the same
# pinned version without them.
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# make is the only system package the install needs (h5py, torch and ffmpeg come as wheels).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*

# /data/runs is where docker-compose.yml mounts the shared `runs` volume: Docker fills a new named
# volume from the image's folder, owner included, so the app user can write to it.
RUN useradd --create-home --uid 1000 ganscope \
    && install -d -o 1000 -g 1000 /data/runs
WORKDIR /home/ganscope/app

# Dependencies first: the layer is rebuilt only when requirements.txt changes.
COPY --chown=1000:1000 Makefile requirements.txt ./
USER 1000
RUN make deps

COPY --chown=1000:1000 . .
RUN make install
# The `ganscope` and `gancore` commands, as docker-compose.yml and `docker compose exec` name them.
ENV PATH=/home/ganscope/app/.venv/bin:$PATH

EXPOSE 8050
# Inside a container the server must listen on every interface to be reachable through the
# published port; outside one, `make run` keeps its 127.0.0.1 default.
CMD ["make", "run", "HOST=0.0.0.0", "PORT=8050"]
