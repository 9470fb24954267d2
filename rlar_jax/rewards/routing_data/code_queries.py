"""Training queries of the "code" family: MBPP tasks, templated programming, tooling, web and devops requests."""

from __future__ import annotations

import random

from rlar_jax.datasets.problems import (
    CODE_INSTRUCTION,
)
from rlar_jax.datasets.registry import bundled_file
from rlar_jax.rewards.routing_data.common import casual, fill, read_jsonl

_CODE_LANGS = ("Python", "JavaScript", "TypeScript", "Java", "C++", "Rust", "Go", "C#", "Ruby", "PHP", "Kotlin",
               "Swift", "C", "Haskell")


_CODE_TASKS = (
    "reverse a string", "check whether a number is prime", "merge two sorted lists", "remove duplicates from an "
    "array", "count how often each word appears in a text", "flatten a nested list", "parse a CSV file into "
    "dictionaries", "find the longest common prefix of some strings", "implement binary search", "compute the "
    "n-th Fibonacci number", "validate an email address", "read a JSON file and print one field", "sort a "
    "dictionary by its values", "detect a cycle in a linked list", "rotate a matrix by 90 degrees", "check if two "
    "strings are anagrams", "convert a Roman numeral to an integer", "implement an LRU cache", "debounce a "
    "function", "download a web page and count its links", "find the k largest numbers in a list", "transpose a "
    "matrix", "generate all permutations of a list", "check balanced parentheses", "implement a stack with a "
    "max operation", "compress a string with run-length encoding", "find the median of two sorted arrays",
    "walk a directory tree and list large files", "serialize a binary tree", "compute the edit distance of "
    "two words",
)


_CODE_FRAMES = (
    "Write a {lang} function to {task}.", "How do I {task} in {lang}?", "Implement code in {lang} that can {task}.",
    "Can you show me {lang} code to {task}?", "I need a {lang} program that will {task}.",
    "Give me a {lang} snippet to {task}, with comments.", "What's the most efficient way to {task} in {lang}?",
    "Write unit tests in {lang} for a function that should {task}.", "In {lang}, write a class that can {task}.",
    "my {lang} code to {task} is too slow, how can I optimise it?",
)


_SNIPPETS = (
    "for i in range(len(xs)):\n    if xs[i] = 0:\n        print(i)",
    "function add(a, b) {\n  return a + b\n}\nconsole.log(add(1))",
    "SELECT name, COUNT(*) FROM orders GROUP BY customer_id;",
    "int main() {\n    int *p;\n    *p = 5;\n    return 0;\n}",
    "let v = vec![1, 2, 3];\nlet w = v;\nprintln!(\"{:?}\", v);",
    "def avg(xs):\n    return sum(xs) / len(xs)\n\nprint(avg([]))",
)


_SNIPPET_FRAMES = ("Why does this code fail?\n```\n{s}\n```", "Fix the bug in this snippet:\n{s}",
                   "What does this code do?\n\n{s}", "Refactor the following code:\n```\n{s}\n```",
                   "Can you explain the error I get here?\n{s}")


_SQL = ("find the second highest salary in an employees table", "list customers with no orders",
        "count orders per month in 2023", "delete duplicate rows from a users table",
        "join the orders and products tables and sum revenue per product")


def _code(rng: random.Random) -> list[str]:
    out = []
    for r in read_jsonl(bundled_file("mbpp")):
        if not (1 <= r["task_id"] <= 10 or 511 <= r["task_id"] <= 974):
            continue
        text = r["text"]
        if rng.random() < 0.5:
            text = f"{text}\nYour code should pass this test:\n{r['test_list'][0]}\n\n{CODE_INSTRUCTION}"
        out.append(text)
    out = rng.sample(out, 380)
    for _ in range(240):
        out.append(rng.choice(_CODE_FRAMES).format(lang=rng.choice(_CODE_LANGS), task=rng.choice(_CODE_TASKS)))
    for _ in range(40):
        out.append(rng.choice(_SNIPPET_FRAMES).format(s=rng.choice(_SNIPPETS)))
    for _ in range(30):
        out.append(rng.choice(("Write a SQL query to {t}.", "SQL: how do I {t}?", "Give me the SQL to {t}."))
                   .format(t=rng.choice(_SQL)))
    out += ["Write a regular expression that matches {}.".format(x) for x in (
        "a US phone number", "dates like 2024-01-31", "hex colour codes", "an IPv4 address")]
    out += ["Write a bash one-liner that {}.".format(x) for x in (
        "renames every .jpeg file to .jpg", "counts the lines of all Python files", "kills a process by port")]
    out += _code_more(rng) + _code_tools(rng) + _code_wide(rng)
    return out


_DS = ("min-heap", "trie", "hash map with separate chaining", "circular buffer", "union-find structure",
       "doubly linked list", "priority queue", "binary search tree with delete", "bloom filter", "deque")


_DIFFS = ("== and === in JavaScript", "a list and a tuple in Python", "an interface and an abstract class in Java",
          "a pointer and a reference in C++", "WHERE and HAVING in SQL", "git merge and git rebase",
          "flexbox and grid in CSS", "margin and padding in CSS", "async and defer on script tags",
          "processes and threads", "a struct and a class in C#", "String and &str in Rust")


_TOOLS = ("squash my last three commits in git", "delete a remote branch in git", "resolve a merge conflict",
          "vertically align text in a div", "make images responsive in CSS",
          "find files larger than 1 GB from the command line", "replace a word in many files with sed",
          "see which process is using port 8080", "set up nginx as a reverse proxy for a Node app",
          "group a pandas DataFrame by two columns and sum", "merge two DataFrames on a key column",
          "fill missing values with the column mean in pandas", "reshape a numpy array", "install a Python package "
          "offline", "set an environment variable in a Dockerfile", "schedule a cron job every 15 minutes",
          "call a REST API with the requests library", "parse command-line arguments in Python")


_BUILDS = ("a Dockerfile for a Flask app", "a docker-compose file with Postgres and Redis", "a GitHub Actions "
           "workflow that runs the tests on every push", "a Kubernetes deployment for a web service", "a Makefile "
           "for a small C project", "an HTML page with a navigation bar", "a contact form in HTML and CSS",
           "a React hook that fetches data", "a Vue component for a todo list", "a Django model for blog posts",
           "a FastAPI endpoint that uploads a file", "an Express middleware that logs requests",
           "a Spring Boot controller for users", "a TypeScript type for an API response", "a Go struct for a "
           "config file", "a protobuf message for an order", "an SQL schema for a library")


_ERRORS = ("TypeError: 'NoneType' object is not subscriptable", "NullPointerException", "segmentation fault",
           "undefined is not a function", "cannot borrow `x` as mutable", "ModuleNotFoundError: No module named "
           "'requests'", "CORS policy: No 'Access-Control-Allow-Origin' header", "fatal: not a git repository")


def _code_more(rng: random.Random) -> list[str]:
    out = fill(rng, ("Implement a {ds}.", "Code a {ds} in {lang}.", "How would you implement a {ds}?"), 25,
                ds=_DS, lang=_CODE_LANGS)
    out += fill(rng, ("What's the difference between {d}?", "Explain {d}, with a code example.",
                       "When should I use each of {d}?"), 30, d=_DIFFS)
    out += fill(rng, ("Write {b}.", "Generate {b}.", "Can you give me {b}?", "I need {b}."), 50, b=_BUILDS)
    out += fill(rng, ("I get \"{e}\" when I run my code. What does it mean?", "How do I fix {e}?",
                       "Why am I getting {e} in {lang}?"), 30, e=_ERRORS, lang=_CODE_LANGS)
    tasks = {"de": ("Schreibe eine {lang}-Funktion, die eine Liste sortiert.", "Wie lese ich in {lang} eine Datei ein?",
                    "Schreib ein {lang}-Programm, das Primzahlen bis 100 ausgibt."),
             "es": ("Escribe una función en {lang} que invierta una cadena.", "¿Cómo leo un archivo CSV en {lang}?",
                    "Haz un programa en {lang} que cuente las palabras de un texto."),
             "fr": ("Écris une fonction {lang} qui calcule la factorielle.", "Comment trier un dictionnaire en {lang} ?"),
             "pt": ("Escreva uma função em {lang} que verifique se um número é primo.",),
             "zh": ("用{lang}写一个函数，判断字符串是不是回文。", "怎么用{lang}读取JSON文件？")}
    out += [rng.choice([f for fs in tasks.values() for f in fs]).format(lang=rng.choice(_CODE_LANGS)) for _ in range(40)]
    return out


_TOOLS_FRAMES = ("How do I {t}?", "What's the command to {t}?", "how to {t}", "Is there a way to {t}?",
                 "Quick question: how can I {t}?", "Show me how to {t}.")


_SCRIPTS = ("backs up a folder to another disk every night", "renames photos by their date", "checks if a website "
            "is up and emails me if not", "deletes log files older than 30 days", "pulls every git repo in a "
            "folder", "converts all PNG images to JPEG", "watches a folder and runs the tests on change")


def _code_tools(rng: random.Random) -> list[str]:
    out = fill(rng, _TOOLS_FRAMES, 90, t=_TOOLS)
    out += fill(rng, ("Write a bash script that {s}.", "Write a PowerShell script that {s}.",
                       "Can you make a shell script that {s}?", "I need a Python script that {s}."), 60, s=_SCRIPTS)
    return out


_CONCEPTS = ("closures", "generators", "decorators", "promises", "async/await", "lifetimes", "goroutines",
             "traits", "interfaces", "pointers", "monads", "hoisting", "prototypal inheritance", "list "
             "comprehensions", "the event loop", "dependency injection", "recursion", "memoisation", "mutexes",
             "virtual functions", "generics", "pattern matching", "the borrow checker", "context managers",
             "higher-order functions", "currying", "immutability", "garbage collection", "channels", "enums")


_CODE_LANG_CONCEPT = ("JavaScript", "Python", "Rust", "Go", "C++", "Java", "Haskell", "TypeScript", "Kotlin",
                      "Scala", "C#", "Swift")


_HTTP_TOOLS = ("curl", "fetch", "axios", "the requests library", "HttpClient in C#", "wget", "Python's urllib",
               "Go's net/http", "OkHttp", "PowerShell", "jQuery")


_WEB_ASKS = ("send a {m} request with {t}", "add an Authorization header to a {m} request using {t}",
             "upload a file with a {m} request in {t}", "send JSON in the body of a {m} request with {t}",
             "handle a timeout when calling an API with {t}", "read the response headers with {t}",
             "retry a failed {m} request with {t}")


_FRAMEWORKS = ("Express", "Flask", "Django", "FastAPI", "Spring Boot", "Rails", "Laravel", "ASP.NET Core", "Gin",
               "Next.js", "NestJS", "Phoenix")


_APPS = ("a REST API for a todo list", "CRUD routes for a product catalogue", "a login endpoint with JWT",
         "a webhook receiver", "pagination for a list endpoint", "file uploads to S3", "rate limiting",
         "a health-check route", "a GraphQL endpoint for users", "websocket chat")


_WIDGETS = ("a signup form with email and password", "a responsive navigation menu", "a pricing table with "
            "three plans", "a modal dialog", "a dark-mode toggle", "an image carousel", "a dropdown menu",
            "a card grid of products", "a footer with social links", "a search box with autocomplete",
            "a progress bar", "a sortable table")


_FRONT_BUGS = ("my React component re-render on every keystroke", "my useState update not show up immediately",
               "my Vue computed property not update", "my CSS grid overflow on mobile", "my fetch call get a "
               "CORS error", "my Angular service run twice", "my z-index not work", "my flexbox items not "
               "wrap", "my Node server crash with EADDRINUSE", "my Docker container exit immediately",
               "my Kubernetes pod keep restarting", "my GitHub Actions job not find my secrets",
               "my pip install fail with a permission error", "npm install take forever")


_SQL_Q = ("SELECT * FROM orders WHERE status = 'open' ORDER BY created_at",
          "SELECT name FROM employees e JOIN departments d ON e.dept = d.id WHERE d.name = 'Sales'",
          "SELECT COUNT(*) FROM logs WHERE created_at > NOW() - INTERVAL '1 day'",
          "SELECT DISTINCT city FROM customers WHERE country LIKE '%land%'")


def _code_wide(rng: random.Random) -> list[str]:
    out = fill(rng, ("What are {c} in {l}? Show an example.", "Explain {c} in {l} with a short example.",
                      "Can you explain how {c} work in {l}?", "{l}: what are {c} and when should I use them?",
                      "i dont get {c} in {l}, can you explain with code?"), 70, c=_CONCEPTS, l=_CODE_LANG_CONCEPT)
    for _ in range(70):
        ask = rng.choice(_WEB_ASKS).format(m=rng.choice(("GET", "POST", "PUT", "PATCH", "DELETE")),
                                           t=rng.choice(_HTTP_TOOLS))
        out.append(casual(rng, rng.choice(("How do I {a}?", "How can I {a}?", "What's the way to {a}?",
                                            "Show me how to {a}.")).format(a=ask)))
    out += fill(rng, ("Build {a} in {f}.", "How do I implement {a} with {f}?", "Set up {a} using {f}.",
                       "Create {a} in {f}, with an example request."), 50, a=_APPS, f=_FRAMEWORKS)
    out += fill(rng, ("Write the HTML and CSS for {w}.", "Write the markup for {w}.", "Make {w} with "
                       "Tailwind.", "Code {w} in React.", "Create {w} using plain HTML, CSS and JavaScript."), 45,
                 w=_WIDGETS)
    out += [casual(rng, rng.choice(("Why does {b}?", "Why would {b}? How do I fix it?")).format(
        b=rng.choice(_FRONT_BUGS).replace("my ", "my ", 1))) for _ in range(45)]
    out += fill(rng, ("Optimise this query: {q};", "Why is this SQL slow? {q}", "Rewrite this query to use an "
                       "index: {q}", "What does this query return? {q}"), 20, q=_SQL_Q)
    out += fill(rng, ("Give me a regex for {r}.", "What regex matches {r}?", "Regular expression to match {r}?"),
                 15, r=("a German postcode", "a time like 23:59", "a Twitter handle", "a MAC address",
                        "a semantic version", "a credit card number", "a URL slug"))
    return out
