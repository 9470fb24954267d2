"""Training queries of the "other" family: factual short-answer and multiple-choice questions."""

from __future__ import annotations

import random

from rlar_jax.rewards.routing_data.common import casual, fill

_CAPITALS = ("France", "Japan", "Kenya", "Canada", "Peru", "Norway", "Egypt", "Vietnam", "Chile", "Poland",
             "Morocco", "Thailand", "Argentina", "Portugal", "Ireland", "Ghana", "Hungary", "Nepal", "Cuba",
             "Finland", "Indonesia", "Colombia", "Greece", "Iceland", "Mongolia", "Ukraine", "Senegal", "Austria")


_BOOKS = ("Pride and Prejudice", "War and Peace", "1984", "Don Quixote", "The Odyssey", "Moby-Dick", "Hamlet",
          "The Great Gatsby", "Crime and Punishment", "Frankenstein", "Ulysses",
          "The Divine Comedy", "Les Misérables", "Beloved", "The Trial")


_ELEMENTS = ("platinum", "iron", "sodium", "potassium", "silver", "tin", "lead", "mercury", "copper", "helium",
             "neon", "calcium", "zinc", "uranium", "tungsten", "oxygen")


_FACT_FRAMES = (
    "What is the capital of {c}?", "Which city is the capital of {c}?", "capital of {c}?",
    "What currency is used in {c}?", "On which continent is {c}?",
    "Who wrote {b}?", "Who is the author of {b}?", "In which century was {b} written?",
    "What is the chemical symbol for {e}?", "What is the atomic number of {e}?", "Is {e} a metal?",
    "Who was the first president of {c}?", "What is the population of {c}, roughly?",
    "What is the tallest mountain in {c}?", "Which ocean borders {c}?",
)


_TRIVIA = (
    "Who painted The Last Supper?", "What year did World War II "
    "end?", "Which planet is known as the Red Planet?", "What is the largest mammal?", "Who discovered "
    "radium?", "What is the boiling point of water in Fahrenheit?", "How many players are on a soccer team?",
    "Which element has the symbol K?", "What is the longest river in Africa?", "Who composed the Moonlight "
    "Sonata?", "When did the French Revolution begin?", "What is the densest natural element?", "How many "
    "continents are there?", "Who was the first person to walk on the Moon?", "What is the speed of light in a "
    "vacuum?", "Which country has the most people?", "What language is spoken in Mozambique?", "How many strings "
    "does a violin have?", "Who invented the light bulb?", "What is the smallest prime number?",
    "What is the freezing point of water in Kelvin?", "What does DNA stand "
    "for?", "Who developed the theory of general relativity?", "In what year did the Titanic sink?",
    "What is the main gas in the Earth's atmosphere?", "How many hearts does an octopus have?",
    "What is the currency of the United Kingdom?", "Which is the largest desert in the world?",
)


def _other(rng: random.Random) -> list[str]:
    out = [rng.choice(_FACT_FRAMES).format(c=rng.choice(_CAPITALS), b=rng.choice(_BOOKS), e=rng.choice(_ELEMENTS))
           for _ in range(300)]
    out += list(_TRIVIA)
    stems = [("What is the capital of {}?", _CAPITALS, ("Lyon", "Osaka", "Mombasa", "Toronto", "Cusco", "Bergen")),
             ("Who wrote {}?", _BOOKS, ("Charles Dickens", "Leo Tolstoy", "Mark Twain", "Jane Austen", "Homer")),
             ("Which is the chemical symbol for {}?", _ELEMENTS, ("Au", "Fe", "Na", "K", "Ag", "Sn", "Pb"))]
    for _ in range(260):
        stem, pool, opts = rng.choice(stems)
        options = rng.sample(opts, 4)
        q = stem.format(rng.choice(pool))
        style = rng.randrange(4)
        if style == 0:
            body = "\n".join(f"{L}. {o}" for L, o in zip("ABCD", options))
        elif style == 1:
            body = " ".join(f"({L}) {o}" for L, o in zip("ABCD", options))
        elif style == 2:
            body = "\n".join(f"{L}) {o}" for L, o in zip("abcd", options))
        else:
            body = "Options: " + ", ".join(options[:-1]) + " or " + options[-1] + "."
        tail = rng.choice(("", "\nAnswer with the letter only.", "\nPick one.", " Choose the correct answer."))
        out.append(f"{q}\n{body}{tail}")
    out += [f"True or false: {s}" for s in ("the Sun is a star.", "bats are birds.", "Tokyo is in China.",
                                             "water boils at 100 degrees Celsius at sea level.")]
    out += _other_more(rng) + _other_wide(rng)
    return out


def _other_more(rng: random.Random) -> list[str]:
    events = ("the Panama Canal open", "the first Moon landing happen", "the Eiffel Tower open", "the Hoover "
              "Dam open", "World War I start", "the printing press appear in Europe", "Columbus reach the Americas",
              "the Roman Empire fall", "India become independent", "the euro come into use", "the Wright brothers fly")
    acronyms = ("UNESCO", "NATO", "HTML", "FIFA", "GDP", "LASER", "RADAR", "UNICEF", "RAM", "OPEC", "SCUBA", "PDF")
    landmarks = ("the Taj Mahal", "Machu Picchu", "the Acropolis", "Angkor Wat", "the Alhambra", "Petra",
                 "the Golden Gate Bridge", "Table Mountain", "the Sagrada Família", "Uluru")
    counts = (("legs", "a spider"), ("players", "a basketball team"), ("strings", "a cello"), ("moons", "Mars"),
              ("states", "the USA"), ("chambers", "the human heart"), ("rings", "the Olympic flag"),
              ("squares", "a chessboard"), ("bones", "the human skull"))
    out = fill(rng, ("In which year did {e}?", "When did {e}?", "What year did {e}?"), 40, e=events)
    out += fill(rng, ("What does {a} stand for?", "{a} is short for what?", "What is the full form of {a}?"), 30,
                 a=acronyms)
    out += fill(rng, ("Which country is {l} in?", "{l} is located in which country?", "Where is {l}?",
                       "In what country would you find {l}?"), 35, l=landmarks)
    out += [rng.choice(("How many {0} does {1} have?", "Number of {0} in {1}?")).format(*rng.choice(counts))
            for _ in range(25)]
    out += fill(rng, ("Name the author of {b}.", "Name the capital of {c}.", "Name the chemical element with the "
                       "symbol of {e}."), 30, b=_BOOKS, c=_CAPITALS, e=_ELEMENTS)
    foreign = ("¿Quién escribió {b}?", "Wer hat {b} geschrieben?", "Qui a écrit {b} ?", "Chi ha scritto {b}?",
               "Was ist die Hauptstadt von {c}?", "Quelle est la capitale de ce pays : {c} ?", "{c}的首都是哪里？",
               "Em que continente fica {c}?", "Welche Sprache spricht man in {c}?", "¿Qué moneda se usa en {c}?")
    out += fill(rng, foreign, 60, b=_BOOKS, c=_CAPITALS)
    for _ in range(50):
        a = rng.randint(10, 40)
        opts = [str(a + k) for k in rng.sample(range(0, 12), 4)]
        q = rng.choice(("Which of these numbers is a perfect square?", "Which one is an even number?",
                        "Which of the following is closest to pi times ten?", "Which is the largest?"))
        out.append(q + " " + " ".join(f"{L}) {o}" for L, o in zip("ABCD", opts)))
    return out


_SCIENCE = (("boiling point", ("mercury", "nitrogen", "acetone", "olive oil", "salt water")),
            ("melting point", ("gold", "ice", "aluminium", "tungsten", "copper")),
            ("density", ("lead", "seawater", "air at sea level", "granite")),
            ("atomic mass", ("carbon", "hydrogen", "uranium", "chlorine")),
            ("half-life", ("carbon-14", "uranium-238", "iodine-131")))


_BODY = (("teeth", "a cat"), ("chromosomes", "a human cell"), ("vertebrae", "the human spine"), ("legs", "an "
         "insect"), ("hearts", "an earthworm"), ("stomachs", "a cow"), ("eyes", "a bee"), ("keys", "a piano"),
         ("players", "a rugby union team"), ("moons", "Neptune"), ("strings", "a bass"), ("wheels", "a tricycle"))


_PLACES = (("the Dead Sea", "which two countries"), ("Mount Kilimanjaro", "which country"), ("the Atacama Desert",
           "which country"), ("Lake Titicaca", "which two countries"), ("the island of Bali", "which country"),
           ("the Danube", "how many countries"), ("the Galápagos Islands", "which country"), ("Transylvania",
           "which country"), ("the Strait of Gibraltar", "which two continents"), ("Patagonia", "which countries"))


_QUOTED_WORKS = (("novel", "Wuthering Heights"), ("play", "Death of a Salesman"), ("novel", "The Catcher in the "
                 "Rye"), ("painting", "The Starry Night"), ("opera", "La Traviata"), ("novel", "Midnight's Children"),
                 ("poem", "The Raven"), ("symphony", "the New World Symphony"), ("novel", "The Name of the Rose"),
                 ("film", "Seven Samurai"), ("novel", "Anna Karenina"), ("play", "A Doll's House"))


_FACT_ASKS = ("What is the smallest bone in the human body?",
              "Who proposed the theory of evolution by natural selection?", "Which metal is liquid at room "
              "temperature?", "What is the most spoken language in South America?", "What is the SI unit of "
              "electric current?", "Which ocean is the smallest?", "Which bird is the fastest in a dive?",
              "Which mineral is table salt made of?", "What part of the cell makes energy?", "Who wrote the "
              "national anthem of France?", "Which hormone regulates blood sugar?", "What is a baby kangaroo "
              "called?", "Which composer went deaf but kept writing music?", "Which metal is most used in household wiring?",
              "What do bees collect to make honey?", "Which empire built Machu Picchu?", "What is the hardest "
              "bone in the body?", "Which country has the longest coastline?", "What instrument has 47 strings?")


def _other_wide(rng: random.Random) -> list[str]:
    out = []
    for _ in range(60):
        prop, things = rng.choice(_SCIENCE)
        t = rng.choice(things)
        out.append(casual(rng, rng.choice((f"What is the {prop} of {t}?", f"{prop.capitalize()} of {t}?",
                                            f"Do you know the {prop} of {t}?", f"Look up the {prop} of {t} for me."))))
    out += [casual(rng, rng.choice(("How many {0} does {1} have?", "How many {0} does {1} usually have?",
                                     "{1} has how many {0}?")).format(*rng.choice(_BODY))) for _ in range(45)]
    for _ in range(45):
        place, what = rng.choice(_PLACES)
        out.append(rng.choice((f"{place} is in {what}?", f"{place} lies in {what}?", f"In {what} would you find "
                               f"{place}?", f"{place} belongs to {what}?", f"{place[0].upper() + place[1:]} is "
                               f"found in {what}?")))
    out += [rng.choice(("Name the author of '{w}'.", "Who wrote the {k} '{w}'?", "Who created the {k} \"{w}\"?",
                        "The {k} '{w}' is by whom?", "Name the creator of the {k} '{w}'.",
                        "Which century is the {k} '{w}' from?")).format(k=k, w=w)
            for k, w in (rng.choice(_QUOTED_WORKS) for _ in range(60))]
    out += [casual(rng, q) for q in _FACT_ASKS]
    tails = (("Canberra", "is the capital of which country"), ("The Nile", "flows into which sea"), ("Kiswahili",
             "is spoken mainly in which region"), ("The Andes", "run along which continent"), ("The yen", "is the "
             "currency of which country"), ("Mount Fuji", "is on which island"), ("The Rhine", "rises in which "
             "mountains"), ("The telescope", "was improved by which Italian scientist"), ("Penicillin", "was "
             "discovered by whom"), ("The Parthenon", "stands in which city"), ("Sushi", "comes from which "
             "country"), ("The Amazon rainforest", "covers parts of how many countries"))
    out += [f"{a} {b}?" for a, b in tails]
    foreign = ("Wer hat das Telefon erfunden?", "Wer entdeckte Amerika?", "Wie hoch ist die Zugspitze?",
               "Welcher Planet ist der Sonne am nächsten?", "Wann begann der Zweite Weltkrieg?",
               "Wer schrieb Faust?", "Wie viele Bundesländer hat Österreich?", "¿Quién descubrió la penicilina?",
               "¿Cuál es el río más largo del mundo?", "¿En qué año cayó el Muro de Berlín?",
               "Qui a inventé l'imprimerie ?", "Quelle est la plus haute montagne "
               "d'Europe ?", "Qui a peint La Joconde ?", "Chi ha dipinto la Cappella Sistina?",
               "Qual é o maior país da América do Sul?", "Wie is de koning van Nederland?", "Кто написал «Войну и "
               "мир»?", "谁发明了电话？", "日本の首都はどこですか？", "Hvad er hovedstaden i Norge?",
               "Welke rivier stroomt door Keulen?", "Wer komponierte die Zauberflöte?", "Welches Tier ist das "
               "größte an Land?")
    out += list(foreign)
    return out
