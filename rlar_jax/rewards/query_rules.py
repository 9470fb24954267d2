"""Hand-written rules that read a query's task family and its salient features from the text alone.

Task tags, code and translation cues, answer options, math notation, format constraints stated in words
(`_states_format`, the "instruction" cue of `_strong_family`): the query analysis
(`rlar_jax.rewards.signature`) applies them, and the router's training data (`routing_data`) uses them to
filter its templates. A leaf of the reward system: it imports only the language table.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from rlar_jax.languages import LANGUAGES

_LANG = "|".join(sorted(LANGUAGES, key=len, reverse=True))

# Dataset task tags -> (family, qualifier); matched in order against the lower-cased tag.
_TAGS: tuple[tuple[str, str, str | None], ...] = (
    (r"gsm8k|math|aime|amc|svamp|asdiv|arith", "math", None),
    (r"mbpp|humaneval|code|apps|leetcode|livecodebench|program", "code", None),
    (r"wmt|transl|flores|iwslt|opus", "translation", None),
    (r"mmlu|arc[-_]|^arc$|hellaswag|gpqa|commonsense|multiple[-_ ]?choice|mcq|piqa|openbookqa", "other", "mc"),
    (r"triviaqa|^nq|natural[-_]?questions|squad|exact|short[-_]?answer|factoid", "other", "exact"),
    (r"ifeval|instruct|format|constraint", "instruction", None),
    (r"hh|harmless|helpful|dialog|chat|llmbar|alpaca|sharegpt|oasst|conversation|preference", "dialogue", None),
)

_TEST_KEYS = ("tests", "test_list", "test_cases", "unit_tests", "test")
_I = re.IGNORECASE

_CODE = (
    re.compile(r"```|\bdef \w+\s*\(|\bclass \w+\s*[:(]|\bimport \w+"),
    re.compile(r"\b(?:write|implement|create|complete|fix|define|code)\b[^.\n]{0,60}\b(?:function|program|"
               r"script|class|method|snippet|algorithm|one-liner)\b", _I),
    re.compile(r"\b(?:python|javascript|typescript|java|c\+\+|rust|golang|sql|bash)\b[^.\n]{0,40}\b(?:function|"
               r"program|script|code|query)\b", _I),
)
# The code cues precise enough to override the router: a fenced block, or a definition / import that
# starts a line (prose such as "the import tax" or "a class schedule (Mondays)" does not).
_CODE_BLOCK = re.compile(r"```|^\s*(?:def \w+\s*\(|class \w+\s*[:(]|(?:from \w[\w.]* )?import \w+)", re.MULTILINE)
_TRANSLATE = re.compile(r"\btranslat(?:e|ion|ing)\b", _I)
_TARGET = re.compile(rf"\b(?:into|to)\s+({_LANG})\b", _I)
_TARGET_IN = re.compile(rf"\bin\s+({_LANG})\b", _I)  # weaker cue ("say it in French"), used only as a fallback
_SOURCE = re.compile(rf"\bfrom\s+({_LANG})\b|\b({_LANG})\s+(?:text|sentence|passage|source|phrase)\b", _I)
_LATEX = re.compile(r"\\(?:frac|sqrt|cdot|times|int|sum|pi|le|ge|left|right|begin|binom|log)\b|\$[^$\n]+\$|"
                    r"\\\(|\\\[")
_MATH_WORDS = re.compile(r"\b(?:solve|compute|calculate|evaluate|simplify|how many|how much|how far|how long|"
                         r"how old|what is the (?:sum|product|value|remainder|area|probability|number|total|"
                         r"average)|find the|integral|derivative|equation|percent|remainder)\b", _I)
_ARITH = re.compile(r"\d\s*[-+*/×÷^=]\s*\d++(?!\s*(?:words?|sentences?|paragraphs?|pages?|lines|bullet|items))")
_OPTION_LINE = re.compile(r"^\s*\(?([A-E])[\).:]\s+\S", re.MULTILINE)
_OPTION_INLINE = re.compile(r"\(([A-E])\)\s*\w")
_OPTION_CIRCLED = re.compile(r"([①-⑩])\s*\S")  # the options of Korean, Japanese and Chinese tests
_TURNS = re.compile(r"^\s*(?:Human|User|Assistant)\s*:", re.MULTILINE)


# Format constraints a request states in words (IFEval-style: counts of words / sentences / layout units,
# letters, case, start and end, JSON, markdown markers, repeating the request, the answer's language). Each
# pattern names the constraint's wording, not a topic, so a request stating one is an "instruction" query.
_N = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty)"
_UNITS = (r"(?:words?|sentences?|paragraphs?|bullet(?:\s*points?|s)?|numbered (?:items|points|steps|lines)|lines|"
          r"sections|highlighted (?:sections|parts|phrases)|placeholders|characters|stanzas|emojis|hashtags)")
_LAYOUT = _UNITS.replace("characters|", "")  # "a story with 3 characters" is no length constraint
_FORMAT = tuple(re.compile(p, _I) for p in (
    rf"\b(?:exactly|at most|at least|no more than|no fewer than|no less than|fewer than|less than|under|"
    rf"a maximum of|a minimum of|not exceeding|not exceed|between {_N} and)\s+{_N}\s+{_UNITS}",
    rf"\b{_N}\s*(?:-|–|to)\s*{_N}\s+{_UNITS}",
    rf"\b(?:in|with|using|into|of|as)\s+(?:just\s+|only\s+)?{_N}\s+(?:short\s+)?{_LAYOUT}(?:\s+or (?:less|fewer))?"
    rf"(?=\s*(?:[.,;:!?)]|$|and\b|or\b|each\b|separated\b|about\b|on\b|that\b|where\b|with\b))",
    r"\b(?:without|never|avoid|(?:do not|don't|must not|cannot|can't|should not|shouldn't)\s+(?:use|include|"
    r"contain|write))\s+(?:using\s+|including\s+|ever\s+)?(?:the|any)?\s*(?:letters?|characters?)\s+[\"'‘“]?[a-z]\b",
    r"\bthe letter\s+[\"'‘“]?[a-z][\"'’”]?\s+(?:should|must|has to|needs to)?\s*appears?\b",
    r"\b(?:in|using|with|use|only|entirely)\s+(?:all\s+|only\s+)?(?:(?:capital|small|block) letters|upper[- ]?case|"
    r"lower[- ]?case)\b(?!\s+(?:and|or)\b)|\bin all caps\b|\ball (?:capital letters|upper[- ]?case|lower[- ]?case)\b",
    r"\b(?:without|no|(?:do not|don't|never)\s+use)\s+(?:using\s+)?(?:any\s+)?commas\b",
    r"\b(?:start|begin|open|end|finish|close|conclude)(?:s|ing)?\s+(?:it|them|each \w+|every \w+|your \w+|the \w+)?"
    r"\s*with\s+(?:(?:the|this)\s+(?:exact\s+)?(?:word|words|phrase|sentence|line)\b|a (?:question|postscript|P\.S\.)|"
    r"[\"“'‘][^\"”'’]{2,60}[\"”'’])",
    r"\b(?:first|last|final|opening|closing) (?:word|sentence|line)\b[^.\n?]{0,40}\b(?:(?:must|should|has to|"
    r"needs to|will) be\b|is\s+[\"'‘“])",
    r"\b(?:each|every) (?:line|sentence|word|paragraph|item|bullet)\b[^.\n?]{0,30}\b(?:must|should|has to|needs to)"
    r"\s+(?:start|begin|end|contain|include|be)\b|\b(?:each|every) (?:line|sentence|word|paragraph)\s+(?:starts|begins|"
    r"ends) with the letter\b",
    r"\b(?:in|as)\s+(?:a\s+)?(?:valid\s+)?json(?:\s+(?:format|object|list|array))?\b|\bjson (?:format|only)\b|\bvalid json\b",
    r"\bsection\s+(?:x|\d)\b|\bpart\s+1\b.{0,30}\bpart\s+2\b|\*\*\*|\bsix asterisks\b|<<[^<>\n]+>>|"
    r"\bdouble angular brackets\b|\bplaceholders? in square brackets\b|\b(?:as|in) a markdown table\b|"
    r"\bhighlight(?:ed)?\b[^.\n]{0,40}\b(?:with|using|in) (?:markdown|\*?asterisks)\b",
    r"\b(?:add|include|end with)\s+a\s+(?:postscript|P\.P?\.S\.)",
    r"\brepeat (?:the|my|this|your) (?:request|question|prompt|instruction)s?\b[^.\n]{0,20}\b(?:word for word|"
    r"exactly|verbatim|without change)",
    r"\b(?:wrap|enclose|put)\b[^.\n]{0,40}\b(?:in|inside|within|with) (?:double )?quot(?:ation marks|es)\b",
    rf"\b(?:answer|respond|reply|write (?:your|the|the whole|the entire) (?:answer|response|reply))\s+(?:only\s+|"
    rf"entirely\s+|exclusively\s+)?in\s+(?:{_LANG})\s+only\b|\b(?:entire|whole) (?:response|answer|reply)\b[^.\n]"
    rf"{{0,30}}\bin\s+(?:{_LANG})\b|\bno other language\b|\b(?:response|answer|reply)\s+(?:must|should) be (?:written\s+)?"
    rf"(?:entirely\s+|only\s+)?in\s+(?:{_LANG})\b",
    rf"\b(?:words of one syllable|one-syllable words|monosyllabic words|words of {_N} letters or (?:fewer|less))\b",
    r"\b(?:do not|don't|never|avoid|without)\s+(?:use\s+|using\s+|include\s+|including\s+|mention\s+|mentioning\s+|"
    r"say\s+|saying\s+)?(?:the\s+|any of the\s+)?(?:key)?words?\s+[\"'‘“]",
    r"\b(?:include|use|mention)\s+(?:the\s+)?(?:key)?words?\s+[\"'‘“][^\"”'’]{1,30}[\"”'’]\s+(?:in (?:every|each|your)|"
    rf"at least|exactly|{_N} times)",
    rf"\b(?:longer|shorter) than {_N} words\b|\b(?:in|as) (?:one |a )?single (?:sentence|paragraph|line)\b|"
    r"\brefrain from (?:the use of|using) (?:any )?commas\b|\b(?:make sure|be sure|remember) to (?:include|use|mention) "
    r"(?:the )?(?:key)?words?\s+[\"'‘“]|"
    r"\b(?:answer|respond|reply) with one of the following options\b|\b(?:key ?words?|terms?|phrases?) in bold\b|"
    r"\bin bold\b",
    rf"\b(?:the word|the keyword|keywords?)\s+[\"'‘“][^\"”'’]{{1,30}}[\"”'’][^.\n]{{0,40}}\b{_N}\s+times\b",
))
# Length and case constraints written in other languages: a count next to a word for words, sentences or
# paragraphs (or characters, in Chinese, Japanese and Korean), and words for lower or upper case.
_FORMAT_OTHER_LANGS = re.compile(
    r"\d+\s*(?:كلمة|كلمات|शब्द|पैराग्राफ|अनुच्छेद|वाक्य|từ\b|câu\b|đoạn\b|คำ|ย่อหน้า|слов|предложени|абзац|"
    r"Wörter|Sätze|Absätze|mots\b|phrases\b|paragraphes|palabras|frases|párrafos|parole\b|frasi\b|paragrafi|"
    r"palavras|parágrafos|woorden|zinnen|alinea|słów|zdań|akapit|kelime|cümle|paragraf|字|段|句话|文字|段落|"
    r"단어|문장|문단|단락|자 이내|자 이상|מילים|משפטים|פסקאות|শব্দ|বাক্য|অনুচ্ছেদ|maneno|sentensi|kata\b|kalimat|"
    r"λέξεις|λέξεων|προτάσεις|παραγράφους|slov\b|vět\b|odstav|cuvinte|propoziții|paragrafe|کلمه|جمله|پاراگراف|"
    r"الفاظ|جملے|சொற்கள|வாக்கியங்கள|salita|pangungusap)|<<\s*>>|chữ thường|chữ in hoa|minúsculas|mayúsculas|"
    r"maiúsculas|Kleinbuchstaben|Großbuchstaben|minuscules|majuscules|строчными|заглавными|прописными|小写|大写|"
    r"大文字|小文字|küçük harf|büyük harf|małymi literami|wielkimi literami|in maiuscolo|in minuscolo|"
    r"parentesi angolari|corchetes angulares|chevrons|угловых скоб", re.IGNORECASE)
_PER_TIME = re.compile(r"\d+\s*\S+\s+(?:в|за|per|por|pro|par|al|na|a)\s+(?:минуту|час|minut|minute|hora|hour|Stunde|heure)",
                       re.IGNORECASE)  # "60 слов в минуту": a rate in a word problem, no length constraint
# Layout units of prose: a count of them is a constraint on the answer even in a request about programming.
_PROSE_FORMAT = re.compile(rf"\b{_N}\s+(?:short\s+)?(?:bullet(?:\s*points?|s)?|paragraphs?|sentences?|stanzas?|"
                           rf"highlighted (?:sections|parts|phrases)|placeholders)\b|<<[^<>\n]*>>", re.IGNORECASE)
# Requests about programming or markup: there "lowercase", "JSON" or "under 10 lines" describe code, not
# the layout of the answer, so the format rule leaves them to the router.
_PROGRAMMING = re.compile(r"\b(?:python|javascript|typescript|java|c\+\+|c#|rust|golang|sql|bash|shell|regex|"
                          r"regular expression|function|variable|string|array|list comprehension|api|endpoint|"
                          r"html|css|excel|spreadsheet|column|parse|serial[iz]e|schema|database|code|script|"
                          r"program|command|library|class|method|git)\b", _I)


# Short translation requests that name the target language without the word "translate": "Say 'X' in
# Greek", "the Portuguese for 'X'", "Put this paragraph into Spanish: ...". The language must end the
# phrase, so "a letter to Chinese investors" or "a summary in French of ..." do not count.
_LANG_END = rf"\s+({_LANG})(?=\s*(?:[:?!.,\n]|please\b|for me\b|$))"
_TRANSLATE_SHORT = tuple(re.compile(p, _I) for p in (
    rf"\b(?:say|said|what(?:'s| is| are| does))\s+[\"“'‘][^\"”\n]{{1,160}}[\"”'’]\s+(?:mean\s+)?in{_LANG_END}",
    rf"\bthe ({_LANG}) (?:for|word for|words for|version of|equivalent of|translation of)\b",
    rf"\b(?:put|render|turn|convert|change|rewrite|give me|write|say)\s+(?:this|that|it|these|those|the following|"
    rf"my)\b(?:\s+[\w'-]+){{0,3}}?\s+(?:into|in|to){_LANG_END}",
))
_QUOTED = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”|«[^»\n]*»|„[^“”\n]*[“”]|「[^」\n]*」|『[^』\n]*』|(?<!\w)'[^'\n]*'(?!\w)")
# Code no prose request contains: an SQL statement written out, or a regular expression asked for.
_CODE_STRONG = re.compile(r"\bSELECT\b[^;]{1,300}?\bFROM\b|\b(?:INSERT INTO|CREATE TABLE|DELETE FROM)\b|"
                          r"\bUPDATE \w+ SET\b|(?i:\b(?:regex(?:es|ps?)?|regular expressions?)\b)|"
                          # a regular expression named in 12 languages, an SQL query, a server's config file
                          r"(?i:expresi[oó]n regular|expression r[ée]guli[eè]re|regul[aä]re[rn]? ausdr[uü]ck|"
                          r"espressione regolare|express[aã]o regular|reguliere expressie|wyrażeni\w* regularn|"
                          r"регулярн\w* выражени|正则表达式|正規表現|정규\s?표현식|정규식|düzenli ifade|reguljärt uttryck|"
                          r"\b(?:sql|mysql|postgres\w*|sqlite)\b[^.?!\n]{0,30}\b(?:query|queries|consulta|requête|"
                          r"abfrage|запрос|zapytanie|sorgu|statement)|\b(?:query|consulta|requête|abfrage|запрос|"
                          r"zapytanie|sorgu)\s+(?:en\s+|in\s+|na\s+)?sql\b|\b(?:nginx|apache|caddy|traefik|haproxy|"
                          r"dockerfile|docker-compose|crontab|systemd)\b[^.?!\n]{0,25}\b(?:config\w*|conf|file|rules?|"
                          r"unit|entry|block|redirect\w*)\b)")


# Anything that can mark a translation request, in any language: a word for "translate", "how do you say",
# a language name (English or native), a language-code arrow ("EN -> FR"). Deliberately broad: it only
# permits the router's "translation"; the English-only encoder reads any non-English text as translation-
# like, so a query with none of these is no translation request whatever the router says.
_NATIVE_LANGS = ("inglés|español|castellano|francés|alemán|italiano|portugués|chino|japonés|ruso|anglais|français|"
                 "allemand|espagnol|italien|chinois|japonais|russe|englisch|deutsch|französisch|spanisch|italienisch|"
                 "chinesisch|japanisch|russisch|inglese|tedesco|francese|spagnolo|cinese|giapponese|inglês|alemão|"
                 "francês|espanhol|chinês|japonês|engels|duits|frans|spaans|английск|немецк|французск|испанск|"
                 "русск|китайск|японск|angielsk|niemieck|polsk|francusk|hiszpańsk|włosk|rosyjsk|chińsk|japońsk|"
                 "portugalsk|ingilizce|almanca|türkçe|fransızca|ispanyolca|japonca|rusça|arapça|korece|çince|"
                 "italyanca|engelska|svenska|tyska|franska|spanska|japanska|kinesiska|japans|italiaans|chinees|"
                 "bahasa (?:inggris|jepang|jerman|prancis|perancis|arab|belanda|mandarin|korea|spanyol|indonesia|"
                 "rusia|italia|melayu)|tiếng (?:anh|nhật|pháp|đức|trung|hàn|việt|nga|tây ban nha)|"
                 "англійськ|польськ|німецьк|французьк|українськ|іспанськ|італійськ|японськ|китайськ|"
                 "kiingereza|kiswahili|kifaransa|kiarabu|kijerumani|αγγλικ|ελληνικ|γαλλικ|γερμανικ|angličtin|"
                 "češtin|němčin|francouzštin|engleză|română|franceză|germană|ingles|tagalog|po angielsku|"
                 "po niemiecku|po francusku|po hiszpańsku|po polsku|po rosyjsku|latin|latim|latein|"
                 "अंग्रेज़ी|अंग्रेजी|हिंदी|हिन्दी|फ़्रेंच|फ्रेंच|जर्मन|स्पेनिश")
_CJK_LANGS = ("英语|英文|中文|法语|德语|日语|西班牙语|俄语|韩语|英語|日本語|中国語|フランス語|ドイツ語|韓国語|영어|한국어|"
              "일본어|중국어|프랑스어|독일어|الإنجليزية|العربية|الفرنسية|אנגלית|עברית|צרפתית|גרמנית|ספרדית|ערבית|"
              "רוסית|ইংরেজি|বাংলা|হিন্দি|ภาษาอังกฤษ|ภาษาไทย|ภาษาจีน|ภาษาญี่ปุ่น|ภาษาฝรั่งเศส|ภาษาเกาหลี|انگلیسی|"
              "فارسی|انگریزی|اردو|ஆங்கில|தமிழ்")
_TRANSLATION_CUE = re.compile(
    r"translat|trad[uú]|übersetz|verta(?:al|le)|перев[оеи]|перекл|přelož|tłumacz|翻[译譯訳]|訳|번역|ترجم|अनुवाद|"
    r"çevir|översätt|käännä|μετάφρ|\bdịch\b|terjemah|oversæt|oversett|תרגם|תתרגם|לתרגם|תרגום|অনুবাদ|แปล|"
    r"tafsiri|மொழிபெயர்|isalin|po angielsku|po niemiecku|po francusku|po hiszpańsku|como fica em|\bsay\b[^.?!\n]{0,40}\bin\b|"
    r"c[oó]mo se dice|comment (?:dit-on|dire|on dit)|wie sagt man|come si dice|como se diz|как (?:сказать|будет)|"
    rf"怎么说|何と言|뭐라고|übertrag|\b(?:{_LANG})\b|\b(?:{_NATIVE_LANGS})|{_CJK_LANGS}|"
    r"\b[A-Za-z]{2}(?:-[A-Za-z]{2})?\s*(?:->|→|=>|>)\s*[A-Za-z]{2}\b", _I)


# A verb (or noun) of translating in one of 18 languages, and any language name: an explicit request to
# translate ("Przetłumacz na angielski: ...", "переведи на немецкий: ..."). No training query of another
# family matches both.
_TRANSLATE_ANY = re.compile(r"translat|traduc|tradu[iz]|übersetz|vertaal|переведи|перевести|переведите|перевод|"
                            r"przetłumacz|tłumacz|翻译|翻譯|翻訳|訳し|訳す|번역|ترجم|çevir|översätt|अनुवाद|\bdịch\b|terjemah|"
                            r"תרגם|תתרגם|לתרגם|תרגום|অনুবাদ|แปล|tafsiri|переклад|перекласти|перекладіть|переклади|"
                            r"μετάφρ|přelož|மொழிபெயர்|isalin|isasalin", _I)
_ANY_LANG = re.compile(rf"\b(?:{_LANG})\b|\b(?:{_NATIVE_LANGS})|{_CJK_LANGS}", _I)
# "How do you say X in <language>?" in 8 languages: with a language name, a request to translate.
_HOW_SAY = re.compile(r"\bhow (?:do|would|can) (?:you|i|we) say\b|c[oó]mo se dice|comment (?:dit-on|dire|on dit)|"
                      r"como fica em|\bjak\b[^?\n]{0,25}\bpo (?:angielsku|niemiecku|francusku|hiszpańsku|włosku)|"
                      r"wie sagt man|come si dice|como se diz|как (?:сказать|будет)|怎么说|怎麼說|何と言|뭐라고", _I)


# Anything that can mark a programming request, in any language: code-like characters and identifiers,
# and words of programming, tools, file formats and the web in 14+ languages. Deliberately broad: it only
# permits the router's "code"; a query with none of these (advice, life decisions, "how does X work" in
# plain words) is no programming request whatever topic words pull the router towards code.
_CODE_CUE = re.compile(
    r"[`{}\[\];=<>\\|$#@]|\w\(|\b[a-z]+_[a-z_]+\b|\b[a-z]+[A-Z][a-zA-Z]+\b|\w\.[a-z]{2,4}\b|"
    r"\b(?:React|Vue|Spring|Swift|Rust|Ruby|Node|Express|Gin|Go|Flutter|Rails)\b|(?<![A-Za-z])(?:Go|C)(?![A-Za-z])|"
    r"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|JOIN|INDEX|SELECT|WHERE|NoSQL)\b|c\+\+|c#|C#|\.NET|asp\.net|ASP\.NET|"
    r"\b[A-Z][a-z]+[A-Z][a-zA-Z]+|(?<!\w)\.[a-z]{2,}|"
    r"(?i:(?<![a-z])(?:code[sd]?|coding|program(?:s|ming|mer)?|scripts?|functions?|methods?|class(?:es)?|variables?|"
    r"arrays?|lists?|dict(?:ionary)?|strings?|integers?|loops?|bugs?|debug\w*|errors?|exceptions?|stack ?trace|"
    r"compil\w+|syntax|api|apis|endpoints?|json|xml|yaml|csv|html|css|js|javascript|typescript|python|java|c\+\+|"
    r"rust|golang|ruby|php|swift|kotlin|scala|perl|lua|haskell|sql|mysql|postgres\w*|sqlite|database|"
    r"queries|query|regex\w*|bash|shell|zsh|terminal|command(?:s| line)?|cli|git|github|gitlab|docker\w*|"
    r"kubernetes|k8s|nginx|apache|caddy|traefik|server|linux|unix|powershell|excel|spreadsheets?|formula|macro|"
    r"vba|apps?|website|web ?page|web|frontend|backend|framework|library|package|npm|pip|conda|import|install\w*|"
    r"deploy\w*|react|vue|angular|svelte|django|flask|fastapi|rails|laravel|spring|node|nodejs|pandas|numpy|"
    r"pytorch|tensorflow|unit ?tests?|algorithm\w*|recursion|recursive|pointers?|null|async|await|threads?|div|"
    r"navbar|responsive|cron\w*|config\w*|selector|repo\w*|commit\w*|branch\w*|merge|pull request|"
    r"pipelines?|ci|lambda|jquery|refactor\w*|implement\w*|snippet|one-liner|binary|hash\w*|parse|pars(?:er|ing)|"
    r"serial\w+|schema|endpoint|http|https|url|dns|ssl|tls|ssh|vim|emacs|vs ?code|ide|jupyter|notebook|"
    r"android|ios|xcode|gradle|maven|webpack|eslint|latex|markdown|matlab|arduino|raspberry|makefile|tailwind|"
    r"bootstrap|curl|wget|fetch|markup|okhttp|axios|sed|awk|grep|port \d+|process(?:es)?|routes?|crud|webhooks?|"
    r"websockets?|memoi[sz]ation|currying|hoisting|closures?|callbacks?|promises?|generics?|interfaces?|"
    r"inheritance|polymorphism|decorators?|iterators?|generators?|dataframe|csv|excel|oauth|jwt|tokens?|"
    r"cookies?|sessions?|cache|caching|login|signup|form|forms|buttons?|modal|dropdown|carousel|widget|"
    r"dark[- ]mode|localhost|ip address|firewall|vpn|ubuntu|debian|macos|homebrew|brew|virtualenv|venv|protobuf|"
    r"flexbox|grid|index(?:es)?|pods?|containers?|stack|heap|interpreter|compiler)(?![a-z])|"
    r"codice|cicli|programa\w*|programm\w*|r[ée]guli|reguljär|regelmatig|стек|куч[аеи]|进程|线程|异步|동기|비동기|"
    r"도커|자바|파이썬|자바스크립트|파일|بايثون|الكود|البيانات|برمج|formuł|komór|kompilat|interpret|plik\w*|"
    r"c[oó]digo|kod\w*|код\w*|コード|代码|代碼|코드|程序|程式|プログラム|프로그램|программ\w*|"
    r"funci[oó]n|fonction|funktion|funzione|função|functie|функци\w*|関数|函数|함수|fonksiyon|funkcj\w*|"
    r"skript|скрипт|スクリプト|脚本|스크립트|base de datos|datenbank|база данных|データベース|数据库|데이터베이스|"
    r"regul[aä]r|регулярн|正则|正規|정규|wyrażeni|запрос|consulta|requête|abfrage|sorgu|zapytani|クエリ|查询|쿼리|"
    r"метод|méthode|método|klasse|clase|класс|클래스|类|クラス|数组|配列|배열|массив|arreglo|tableau|список|"
    r"리스트|列表|リスト|bucle|boucle|schleife|цикл|循环|ループ|반복문|ошибк|erreur|fehler|errore|erro|hata|błąd|"
    r"エラー|错误|报错|에러|오류|버그|バグ|компил|コンパイル|编译|컴파일|sunucu|serveur|servidor|сервер|服务器|"
    r"サーバ|서버|komut|commande|befehl|comando|команд|命令|コマンド|명령)")


def code_cue(query: str) -> bool:
    """True when the query contains anything that can mark a programming request (`_CODE_CUE`)."""
    return _CODE_CUE.search(query) is not None


def translation_cue(query: str) -> bool:
    """True when the query contains anything that can mark a translation request (`_TRANSLATION_CUE`)."""
    return _TRANSLATION_CUE.search(query) is not None


def _states_format(query: str) -> bool:
    """True when the query states a verifiable format constraint in words (`_FORMAT`, `_FORMAT_OTHER_LANGS`) and
    is not about programming, or counts layout units of prose (`_PROSE_FORMAT`) whatever its topic."""
    if _PROSE_FORMAT.search(query):
        return True
    other_langs = _FORMAT_OTHER_LANGS.search(query) is not None and not _PER_TIME.search(query)
    return (any(p.search(query) for p in _FORMAT) or other_langs) and not _PROGRAMMING.search(query)


def _tests_in(meta: Mapping[str, Any]) -> bool:
    return any(meta.get(k) for k in _TEST_KEYS)


def _lang_pair(query: str, task: str | None, meta: Mapping[str, Any]) -> str | None:
    for key in ("lang_pair", "language_pair", "langs"):
        if isinstance(meta.get(key), str) and meta[key].strip():
            return meta[key].strip().lower().replace("_", "-")
    for s, t in (("src_lang", "tgt_lang"), ("source_lang", "target_lang")):
        if meta.get(s) and meta.get(t):
            return f"{str(meta[s]).lower()}-{str(meta[t]).lower()}"
    if task:
        m = re.search(r"([a-z]{2,3})[-_]([a-z]{2,3})$", task)
        if m:
            return f"{m.group(1)}-{m.group(2)}"
    tgt = _TARGET.search(query) or _TARGET_IN.search(query)
    if not tgt:
        return None
    src = _SOURCE.search(query)
    src_code = LANGUAGES[(src.group(1) or src.group(2)).lower()] if src else "xx"
    return f"{src_code}-{LANGUAGES[tgt.group(1).lower()]}"


def _is_multiple_choice(query: str, meta: Mapping[str, Any]) -> bool:
    if isinstance(meta.get("choices") or meta.get("options"), (list, dict)):
        return True
    letters = set(_OPTION_LINE.findall(query)) or set(_OPTION_INLINE.findall(query))
    circled = set(_OPTION_CIRCLED.findall(query))
    return (len(letters) >= 3 and {"A", "B"} <= letters) or (len(circled) >= 3 and {"①", "②"} <= circled)


def _detect_family(query: str, meta: Mapping[str, Any]) -> str | None:
    if _tests_in(meta) or any(p.search(query) for p in _CODE):
        return "code"
    if _TRANSLATE.search(query) and (_TARGET.search(query) or _TARGET_IN.search(query)):
        return "translation"
    if _is_multiple_choice(query, meta):
        return "other"
    if _LATEX.search(query) or (re.search(r"\d", query) and (_MATH_WORDS.search(query) or _ARITH.search(query))):
        return "math"
    if _TURNS.search(query):
        return "dialogue"
    return None


def _strong_family(query: str, meta: Mapping[str, Any]) -> str | None:
    """The rules precise enough to override the router: tests or answer options in meta, a code block or
    definition, an explicit request to translate into a named language, three or more lettered options, an
    SQL statement or a request for a regular expression, a short translation request naming the target
    language ("Say 'X' in Greek"), a verb of translating (or "how do you say") in any of 15 languages with a language
    name, a format constraint stated in words in a request the rules give no
    other family."""
    if _tests_in(meta) or _CODE_BLOCK.search(query):
        return "code"
    if isinstance(meta.get("choices") or meta.get("options"), (list, dict)):
        return "other"
    if _TRANSLATE.search(query) and _TARGET.search(query):
        return "translation"
    if _is_multiple_choice(query, meta):
        return "other"
    if _CODE_STRONG.search(query):
        return "code"
    request = _QUOTED.sub(" ", query)  # programming words inside the text to translate do not count
    if any(p.search(query) for p in _TRANSLATE_SHORT) and not _PROGRAMMING.search(request):
        return "translation"
    if (_TRANSLATE_ANY.search(query) or _HOW_SAY.search(query)) and _ANY_LANG.search(query) \
            and not _PROGRAMMING.search(request):
        return "translation"
    if _states_format(query) and _detect_family(query, meta) is None:
        return "instruction"
    return None
