"""Training queries of the "math" family: GSM8K, arithmetic and MATH-500 problems, templated questions."""

from __future__ import annotations

import random

from rlar_jax.datasets.problems import (
    GSM8K_INSTRUCTION,
    MATH_INSTRUCTION,
)
from rlar_jax.datasets.registry import bundled_file
from rlar_jax.rewards.routing_data.common import casual, fill, read_jsonl

_POLYGONS = ("triangle", "quadrilateral", "pentagon", "hexagon", "heptagon", "octagon", "nonagon", "decagon")


def _math(rng: random.Random) -> list[str]:
    out = [r["question"] + (f"\n\n{GSM8K_INSTRUCTION}" if rng.random() < 0.5 else "")
           for r in rng.sample(list(read_jsonl(bundled_file("gsm8k", "train"))), 300)]
    out += [r["question"] for r in rng.sample(list(read_jsonl(bundled_file("arith", "train"))), 60)]
    out += [r["problem"] + (f"\n\n{MATH_INSTRUCTION}" if rng.random() < 0.5 else "")
            for r in list(read_jsonl(bundled_file("math500", "test")))[:200]]
    n = lambda a, b: rng.randint(a, b)  # noqa: E731
    templates = [
        lambda: f"What is {n(5, 95)}% of {n(20, 900)}?",
        lambda: f"Solve for x: {n(2, 9)}x + {n(1, 30)} = {n(31, 99)}",
        lambda: f"Find x if {n(2, 12)}x - {n(1, 20)} = {n(2, 40)}.",
        lambda: f"What is the measure of each interior angle of a regular {rng.choice(_POLYGONS)}?",
        lambda: f"How many diagonals does a {rng.choice(_POLYGONS)} have?",
        lambda: f"A cyclist rides {n(10, 90)} miles in {n(2, 6)} hours. How fast is she going on average?",
        lambda: f"A train leaves at {n(1, 11)}:00 and travels {n(100, 600)} km at {n(60, 150)} km/h. "
                "When does it arrive?",
        lambda: f"Calculate the area of a circle with a radius of {n(2, 20)} cm.",
        lambda: f"What is the perimeter of a rectangle that is {n(3, 30)} m long and {n(2, 20)} m wide?",
        lambda: f"What's {n(12, 999)} times {n(3, 99)}?",
        lambda: f"Compute {n(100, 9999)} divided by {n(2, 40)}, rounded to two decimals.",
        lambda: f"If I roll two dice, what is the probability that the sum is {n(2, 12)}?",
        lambda: f"What is the derivative of x^{n(2, 7)} + {n(2, 9)}x?",
        lambda: f"Evaluate the integral of {n(2, 9)}x^{n(1, 4)} from 0 to {n(1, 5)}.",
        lambda: f"What is the greatest common divisor of {n(12, 200)} and {n(12, 200)}?",
        lambda: f"Find the least common multiple of {n(3, 30)} and {n(3, 30)}.",
        lambda: f"A shirt costs ${n(15, 80)} and is on sale for {n(10, 60)}% off. What is the sale price?",
        lambda: f"If {n(3, 12)} workers build a wall in {n(2, 10)} days, how long would {n(2, 20)} workers take?",
        lambda: f"What is the sum of the first {n(10, 100)} positive integers?",
        lambda: f"Simplify ({n(2, 9)}x + {n(1, 9)})({n(2, 9)}x - {n(1, 9)}).",
        lambda: f"Convert {n(2, 90)} miles per hour into metres per second.",
        lambda: f"How many seconds are there in {n(2, 30)} days?",
        lambda: f"What is {n(2, 9)}/{n(2, 9)} + {n(2, 9)}/{n(2, 9)} as a fraction in lowest terms?",
        lambda: f"The angles of a triangle are in the ratio {n(1, 5)}:{n(1, 5)}:{n(1, 5)}. Find the largest angle.",
        lambda: f"A recipe needs {n(2, 5)} cups of flour for {n(6, 24)} cookies. "
                f"How much flour for {n(30, 90)} cookies?",
        lambda: f"I invest ${n(500, 9000)} at {n(2, 9)}% compound interest per year. "
                f"How much do I have after {n(2, 10)} years?",
        lambda: f"What is the square root of {rng.choice([n(2, 40) ** 2, n(2, 999)])}?",
        lambda: f"Is {n(100, 999)} divisible by {n(3, 13)}? Show the remainder.",
        lambda: f"quick one: {n(10, 99)} + {n(10, 99)} * {n(2, 9)} = ?",
        lambda: f"How long does it take to drive {n(50, 500)} km at {n(40, 120)} km/h?",
        lambda: f"What is the volume of a cube whose edges are {n(2, 15)} inches long?",
        lambda: f"A ladder {n(5, 13)} m long leans against a wall with its foot {n(1, 4)} m from the wall. "
                "How high does it reach?",
        lambda: f"Find the mean and median of {', '.join(str(n(1, 50)) for _ in range(6))}.",
        lambda: f"What is log base {n(2, 5)} of {n(8, 625)}?",
        lambda: f"How many ways can {n(3, 8)} people sit in a row?",
        lambda: "Prove that the sum of two odd numbers is even.",
        lambda: f"Factor x^2 + {n(2, 15)}x + {n(1, 50)}.",
        lambda: f"What is the slope of the line through ({n(-9, 9)}, {n(-9, 9)}) and ({n(-9, 9)}, {n(-9, 9)})?",
    ]
    out += [rng.choice(templates)() for _ in range(260)]
    out += _math_more(rng) + _math_wide(rng)
    return out


_FUNCS = ("sin(x)", "x^2 e^x", "ln(x)/x", "cos(2x)", "e^(3x)", "x^3 - 2x", "sqrt(x^2 + 1)", "tan(x)", "x ln(x)",
          "1/(1 + x^2)")


def _math_more(rng: random.Random) -> list[str]:
    n = lambda a, b: str(rng.randint(a, b))  # noqa: E731
    out = fill(rng, ("Find the derivative of {f}.", "Differentiate {f} with respect to x.", "Integrate {f} dx.",
                      "What is the antiderivative of {f}?", "d/dx of {f}?"), 40, f=_FUNCS)
    for _ in range(90):
        a, b, c, d = n(1, 9), n(1, 9), n(1, 9), n(1, 9)
        out.append(rng.choice((
            f"Convert {n(-20, 110)} degrees Celsius to Fahrenheit.", f"What is {n(0, 212)}°F in Celsius?",
            f"How many ounces are in {n(2, 20)} pounds?", f"How many centimetres is {n(2, 90)} inches?",
            f"My car uses {n(4, 12)} litres per 100 km. How much fuel do I need for {n(50, 900)} km?",
            f"I earn ${n(10, 60)} an hour. How much do I make in a {n(10, 50)}-hour week?",
            f"Find the determinant of [[{a}, {b}], [{c}, {d}]].", f"Multiply the matrices [[{a}, {b}], [{c}, {d}]] "
            f"and [[{d}, {c}], [{b}, {a}]].", f"What are the eigenvalues of [[{a}, 0], [0, {d}]]?",
            f"A phone plan costs ${n(10, 40)} a month plus ${n(1, 5)} per GB. What do {n(2, 20)} GB cost?",
            f"What is {n(2, 9)} to the power of {n(2, 6)}?", f"Round {n(100, 999)}.{n(100, 999)} to the nearest ten.",
            f"How many kilometres per litre is {n(20, 60)} miles per gallon?",
            f"A map scale is 1:{n(10, 100)}000. How far apart are two towns that are {n(2, 20)} cm apart on the map?",
        )))
    for _ in range(70):
        a, b = n(2, 99), n(2, 99)
        out.append(rng.choice((
            f"Wie viel ist {a} plus {b}?", f"Was ist {n(5, 50)} Prozent von {n(100, 900)}?",
            f"Berechne die Fläche eines Rechtecks mit den Seiten {a} cm und {b} cm.", f"Löse die Gleichung {n(2, 9)}x + {a} = {b}.",
            f"¿Cuánto es {a} por {b}?", f"Calcula el área de un círculo de radio {n(2, 20)} cm.",
            f"Si un coche recorre {n(100, 500)} km en {n(2, 6)} horas, ¿cuál es su velocidad media?",
            f"Combien font {a} fois {b} ?", f"Résous l'équation {n(2, 9)}x - {a} = {b}.",
            f"Quanto fa {a} diviso {b}?", f"Quanto é {a} mais {b}?", f"{a}加{b}等于多少？",
            f"Hoeveel is {a} keer {b}?", f"Сколько будет {a} умножить на {b}?",
        )))
    return out


_PROOFS = ("there are infinitely many primes", "the product of two consecutive integers is even",
           "n^3 - n is divisible by 6 for every integer n", "the sum of the first n odd numbers is n^2",
           "log base 2 of 3 is irrational", "every prime greater than 3 is one more or one less than a multiple "
           "of 6", "1 + 2 + ... + n = n(n+1)/2", "the angles of a triangle add up to 180 degrees",
           "a number is divisible by 9 when its digit sum is", "there is no largest even number",
           "the square of an odd number is odd", "2^n > n for every positive integer n",
           "the diagonals of a parallelogram bisect each other", "e is irrational", "the harmonic series diverges")


_COUNT_THINGS = (("passwords of {k} lowercase letters", "letters may not repeat"),
                 ("licence plates with {k} letters followed by 3 digits", "any letter or digit may repeat"),
                 ("{k}-digit numbers", "the first digit is not zero"), ("ways to choose a team of {k} from 12 "
                  "players", "order does not matter"), ("ways to arrange {k} books on a shelf", "all books differ"),
                 ("lock combinations of {k} numbers from 0 to 39", "numbers may repeat"),
                 ("ways to seat {k} guests at a round table", "rotations count as the same"),
                 ("paths from one corner of a {k} by {k} grid to the opposite corner", "moving only right or up"),
                 ("outfits from {k} shirts, 4 trousers and 3 hats", "you wear one of each"))


def _math_wide(rng: random.Random) -> list[str]:
    n = rng.randint
    out = fill(rng, ("Prove that {p}.", "Show that {p}.", "Can you prove that {p}?", "Give a proof that {p}.",
                      "Why is it true that {p}? Prove it."), 45, p=_PROOFS)
    for _ in range(70):
        thing, cond = rng.choice(_COUNT_THINGS)
        thing = thing.format(k=n(3, 6))
        out.append(rng.choice((f"How many {thing} are possible if {cond}?", f"How many different {thing} are "
                               f"there?", f"Count the {thing}, given that {cond}.", f"If {cond}, how many {thing} "
                               "can be made?")))
    words = ("BANANA", "LETTER", "MISSISSIPPI", "STATISTICS", "COOKIE", "APPLE")
    for _ in range(90):
        a, b, c = n(2, 60), n(2, 40), n(100, 900)
        out.append(casual(rng, rng.choice((
            f"How many ways can the letters of {rng.choice(words)} be arranged?",
            f"What's {a}% of {c}?", f"how much is {a} percent off {c} dollars", f"what is {b}/{a} as a decimal",
            f"A bag has {a} red and {b} blue marbles. What is the chance of drawing two red ones in a row?",
            f"Two trains {c} km apart head towards each other at {a} km/h and {b} km/h. When do they meet?",
            f"A tank fills in {a} minutes and drains in {b + a} minutes. How long to fill it with both open?",
            f"What is the next number in the sequence {a}, {a + b}, {a + 2 * b}, {a + 3 * b}?",
            f"The sum of two numbers is {c} and their difference is {a}. What are they?",
            f"A rectangle's length is {a} cm more than its width and its area is {c} cm². Find its sides.",
            f"What's the hypotenuse of a right triangle with legs {a} and {b}?",
            f"If f(x) = {a}x^2 - {b}, what is f({n(2, 9)})?", f"Solve the system x + y = {c}, x - y = {a}.",
            f"What is the expected value of a fair {rng.choice((6, 8, 12, 20))}-sided die?",
            f"How many minutes are {a} hours and {b} minutes in total?",
            f"A tip of {n(10, 25)}% on a ${c // 10} bill comes to how much?",
            f"Berechne {a} % von {c}.", f"Wie groß ist der Umfang eines Kreises mit Radius {b} cm?",
            f"¿Cuál es el {a} % de {c}?", f"Quelle est l'aire d'un carré de côté {b} m ?",
            "Wie viele Minuten hat ein Tag?", f"Un coche gasta {n(5, 9)} litros cada 100 km. ¿Cuánto gasta en {c} km?",
            f"What is the mean of the first {b} even numbers?", f"Find all real roots of x^2 - {a}x + {b} = 0.",
            f"Is {c + 1} a prime number? Show why.", f"What is {a}! divided by {a - 1}!?",
            f"Express {a}/{c} as a percentage.", f"What's the median of {a}, {b}, {c}, {a + b} and {n(1, 99)}?",
        ))))
    return out
