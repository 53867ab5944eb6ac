"""A faithful port of Arthas's math-game: ``demo.MathGame``, one ``run()`` a second.

Each run draws a number like Java's ``random.nextInt() / 10000`` (about half are negative), factors it
with ``primeFactors`` and prints it; numbers below 2 raise ``ValueError("number is: N, need >= 2")``
(Java's IllegalArgumentException) and count in ``illegalArgumentCount``.
"""
import os
import random
import sys
import time


class MathGame:
    random = random.Random()

    def __init__(self):
        self.illegalArgumentCount = 0

    def run(self):
        try:
            number = int(self.random.randint(-2 ** 31, 2 ** 31 - 1) / 10000)
            prime_factors = self.primeFactors(number)
            MathGame.print(number, prime_factors)
        except Exception as e:
            sys.stdout.write("illegalArgumentCount:%3d, %s\n" % (self.illegalArgumentCount, e))
            sys.stdout.flush()

    @staticmethod
    def print(number, primeFactors):
        text = "%d=" % number + "*".join(str(factor) for factor in primeFactors)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def primeFactors(self, number):
        if number < 2:
            self.illegalArgumentCount += 1
            raise ValueError("number is: %d, need >= 2" % number)
        result = []
        i = 2
        while i <= number:
            if number % i == 0:
                result.append(i)
                number = number // i
                i = 2
            else:
                i += 1
        return result


def main():
    interval = float(os.environ.get("PYARTHAS_DEMO_INTERVAL", "1"))
    game = MathGame()
    while True:
        game.run()
        time.sleep(interval)


if __name__ == "__main__":
    main()
