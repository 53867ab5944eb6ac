
import time

def hot(x):
    return [x] * 64

print("ready", flush=True)
while True:
    hot(1)
    time.sleep(0.002)
