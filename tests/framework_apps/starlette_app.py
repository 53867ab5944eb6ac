"""A FastAPI (Starlette) app for the tests, run under uvicorn."""
import asyncio
import contextvars

import hot_work
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()
REQUEST_NAME = contextvars.ContextVar("request_name")


@app.get("/hot", response_class=PlainTextResponse)
async def hot():
    return "spun %d\n" % hot_work.burn()


@app.get("/sleepy", response_class=PlainTextResponse)
async def sleepy():
    await asyncio.sleep(0.002)
    return "slept\n"


@app.get("/answer", response_class=PlainTextResponse)
def answer():
    return hot_work.answer() + "\n"


@app.get("/whoami", response_class=PlainTextResponse)
async def whoami_route(name: str = "nobody"):
    REQUEST_NAME.set(name)
    return await whoami()


async def whoami():
    # reads the request's context variable and names the loop it runs on: a replay in the recorded context,
    # on the app's own loop, answers the same
    await asyncio.sleep(0)
    return "%s on loop %x\n" % (REQUEST_NAME.get(), id(asyncio.get_running_loop()))


@app.get("/nap", response_class=PlainTextResponse)
def nap():
    return "napped %s\n" % hot_work.nap()
