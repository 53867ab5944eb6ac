"""A FastAPI (Starlette) app for the tests, run under uvicorn."""
import asyncio

import hot_work
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


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
