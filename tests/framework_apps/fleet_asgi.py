"""A FastAPI app that starts the agent when it starts up (docs/fleet.md's uvicorn recipe): under
``uvicorn --workers N`` every worker process imports the app afresh and runs its lifespan, so each joins the
fleet through the environment variables."""
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse


@asynccontextmanager
async def lifespan(app):
    import pyarthas
    pyarthas.start(port=0, telnet_port=-1)
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/answer", response_class=PlainTextResponse)
def answer():
    return "v1\n"
