"""Words and marks that cue a query's family in many languages, for the hand-written rules (`query_rules`).

Translation verbs and language names (English, native and in other scripts), "how do you say", format
constraints written in other languages (counts next to a unit, counts written as words after "exactly" or
"at most", phrases to start or end with, words to use or avoid, upper and lower case, list layouts), "which
of the following", words for program and function, the broad programming cue that permits the router's
"code", short factual questions ("in which year", "who wrote") and the requests for an opinion, advice or a
piece of writing that refuse the router's "other". A leaf of the reward system: it imports only the language
table.
"""

from __future__ import annotations

import re

from rlar_jax.languages import LANGUAGES

_I = re.IGNORECASE
# Every English language name as one alternation, longest first (so "mandarin" is not read as a prefix).
LANGUAGE_NAMES = "|".join(sorted(LANGUAGES, key=len, reverse=True))
_LANG = LANGUAGE_NAMES

# Length and case constraints written in other languages: a count next to a word for words, sentences or
# paragraphs (or characters, in Chinese, Japanese and Korean), and words for lower or upper case.
FORMAT_WORDS = re.compile(
    r"\d+\s*(?:كلمة|كلمات|शब्द|पैराग्राफ|अनुच्छेद|वाक्य|từ\b|câu\b|đoạn\b|คำ|ย่อหน้า|слов|предложени|абзац|"
    r"Wörter|Sätze|Absätze|mots\b|phrases\b|paragraphes|palabras|frases|párrafos|parole\b|frasi\b|paragrafi|"
    r"palavras|parágrafos|woorden|zinnen|alinea|słów|zdań|akapit|kelime|cümle|paragraf|字|段|句话|文字|段落|"
    r"단어|문장|문단|단락|자 이내|자 이상|מילים|משפטים|פסקאות|শব্দ|বাক্য|অনুচ্ছেদ|maneno|sentensi|kata\b|kalimat|"
    r"λέξεις|λέξεων|προτάσεις|παραγράφους|slov\b|vět\b|odstav|cuvinte|propoziții|paragrafe|کلمه|جمله|پاراگراف|"
    r"الفاظ|جملے|சொற்கள|வாக்கியங்கள|salita|pangungusap)|<<\s*>>|chữ thường|chữ in hoa|minúsculas|mayúsculas|"
    r"maiúsculas|Kleinbuchstaben|Großbuchstaben|minuscules|majuscules|строчными|заглавными|прописными|小写|大写|"
    r"大文字|小文字|küçük harf|büyük harf|małymi literami|wielkimi literami|in maiuscolo|in minuscolo|"
    r"parentesi angolari|corchetes angulares|chevrons|угловых скоб|κεφαλαία|πεζά|huruf kecil|huruf besar|"
    r"büyük harflerle|küçük harflerle|liste à puces|liste numérotée|lista con viñetas|"
    r"lista numerada|elenco puntato|elenco numerato|Aufzählungsliste|nummerierte Liste|маркированн\w* списк|"
    r"нумерованн\w* списк|lista punktowana|lista numerowana|číslovaný seznam|odrážk|madde işaret|numaralı liste|"
    r"danh sách (?:gạch đầu dòng|đánh số)|项目符号|编号列表|箇条書き|番号付きリスト|글머리 기호|번호 목록|"
    r"רשימה ממוספרת|क्रमांकित सूची|قائمة مرقمة|فهرست شماره|大写字母|小写字母|すべて小文字|大文字で|소문자|대문자|"
    r"אותיות גדולות|"
    r"بحروف كبيرة|litere mari|litere mici|velkými písmeny|malými písmeny|nagybetűvel|kisbetűvel", re.IGNORECASE)
_LINES_ML = (r"Zeilen|lignes|líneas|righe|linhas|regels|строк|рядк|wierszy|linijek|satır|baris|dòng|行|줄|שורות|"
             r"पंक्ति|سطر|σειρ|řádk|rânduri|sorban|sor\b|mistari")
_UNITS_ML = (r"Wört|Wort|Sätz|Satz|Absätz|mots|phrases|paragraphe|palabras|frases|párrafo|parole|frasi|paragraf|"
             r"palavras|parágrafo|woorden|zinnen|alinea|słow|słów|zdani|zdań|akapit|слов|предложени|абзац|речен|"
             r"kelime|cümle|kata|kalimat|từ|câu|đoạn|字|段|句|単語|文|단어|문장|문단|מיל|משפט|פסק|शब्द|वाक्य|"
             r"पैराग्राफ|كلم|جمل|فقر|کلمه|جمله|λέξ|πρότασ|παράγραφ|slov|vět|odstav|cuvint|propozi|szó|szav|mondat|"
             r"bekezdés|maneno|sentensi|aya|" + _LINES_ML)
# "exactly / at most / at least" in 20 languages, then a unit within a few words: counts written as words
# ("genau vier Zeilen", "рівно у двох реченнях").
COUNT_WORDS = re.compile(
    r"(?:genau|exactement|exactamente|esattamente|exatamente|precies|dokładnie|ровно|рівно|tam olarak|tepat|"
    r"chính xác|đúng|正好|ちょうど|정확히|בדיוק|ठीक|بالضبط|دقیقا|ακριβώς|přesně|exact|pontosan|höchstens|maximal|"
    r"maximum|máximo|massimo|maximo|не более|не больше|не менше|не більше|nie więcej niż|en fazla|en az|tối đa|"
    r"tối thiểu|không quá|最多|至少|不超过|不少于|以内|최대|이내|לכל היותר|לפחות|अधिकतम|कम से कम|حداکثر|حداقل|"
    r"لا تتجاوز|لا تزيد|على الأقل|μέχρι|τουλάχιστον|nejvýše|nejméně|cel mult|cel puțin|legfeljebb|legalább|"
    r"mindestens|au moins|au plus|al menos|como máximo|almeno|al massimo|pelo menos|no máximo|hoogstens|"
    rf"minstens|co najmniej|не менее|paling banyak|minimal|maksimal)[^.?!\n]{{0,25}}?(?:{_UNITS_ML})", re.IGNORECASE)
# A phrase the answer must start or end with, a word it must (not) contain, given in quotes, in 15 languages.
PHRASE_WORDS = re.compile(
    r"(?:iniziare con|terminare con|iniziar|empe[zc]a\w* con|comenzar con|terminar con|acabar con|commencer par|"
    r"se terminer par|finir par|beginnen mit|enden mit|beginnt mit|endet mit|começar com|terminar com|"
    r"akhiri dengan|mulai dengan|diawali dengan|diakhiri dengan|начина\w* с|заканчива\w*|почина\w* з|"
    r"закінчу\w*|ile başla|ile bitir|开头|结尾|で始め|で終わ|로 시작|로 끝|ابدأ|تنتهي ب|اختم|να ξεκινά|να τελειώνει|"
    r"začínat|končit|să înceapă cu|să se termine cu|zaczynać się od|kończyć się|"
    # a word to use or avoid: a verb of containing / using / "without", then a word for "word", then quotes
    r"(?:ohne|sans|sin|senza|sem|без|bez|not use|verwende|benutze|enthalt|enthält|contien|contenga|contenir|"
    r"contener|contenere|conter|contenha|conțin|zawiera|içer|kullan|mengandung|gunakan|chứa|dùng|包含|不要用|"
    r"不用|含め|使わ|포함|사용하지|לכלול|בלי|ללא|बिना|शामिल|بدون|تتضمن|يتضمن|شامل|χωρίς|περιέχει|obsahov|"
    r"tartalmaz|nélkül)[^.?!\n]{0,25}?(?:Wort|Wörter|mot|palabra|parola|parole|palavra|woord|słow|слов|kelime|"
    r"kata|từ|词|単語|단어|מילה|המילה|शब्द|كلمة|کلمه|λέξ|slov|cuv[âi]nt|szó|szav))[^.?!\n«\"„“'‘]{0,20}"
    r"[«\"„“'‘]", re.IGNORECASE)
PER_TIME = re.compile(r"\d+\s*\S+\s+(?:в|за|per|por|pro|par|al|na|a)\s+"
                      r"(?:минуту|час|minut|minute|hora|hour|Stunde|heure)",
                       re.IGNORECASE)  # "60 слов в минуту": a rate in a word problem, no length constraint


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
                 "kiingereza|kiswahili|kifaransa|kiarabu|kijerumani|αγγλικ|ελληνικ|γαλλικ|γερμανικ|ιταλικ|ισπανικ|ρωσικ|"
                 "ιαπωνικ|κινεζικ|angol|német|francia|olasz|spanyol|magyar|engelsk|dansk|norsk|tysk|fransk|spansk|"
                 "englanniksi|ruotsiksi|saksaksi|ranskaksi|espanjaksi|suomeksi|angličtin|"
                 "češtin|němčin|francouzštin|engleză|română|franceză|germană|ingles|tagalog|po angielsku|"
                 "po niemiecku|po francusku|po hiszpańsku|po polsku|po rosyjsku|latin|latim|latein|"
                 "अंग्रेज़ी|अंग्रेजी|हिंदी|हिन्दी|फ़्रेंच|फ्रेंच|जर्मन|स्पेनिश")
_CJK_LANGS = ("英语|英文|中文|法语|德语|日语|西班牙语|俄语|韩语|英語|日本語|中国語|フランス語|ドイツ語|韓国語|영어|한국어|"
              "일본어|중국어|프랑스어|독일어|الإنجليزية|العربية|الفرنسية|אנגלית|עברית|צרפתית|גרמנית|ספרדית|ערבית|"
              "רוסית|ইংরেজি|বাংলা|হিন্দি|ภาษาอังกฤษ|ภาษาไทย|ภาษาจีน|ภาษาญี่ปุ่น|ภาษาฝรั่งเศส|ภาษาเกาหลี|انگلیسی|"
              "فارسی|انگریزی|اردو|ஆங்கில|தமிழ்|스페인어|이탈리아어|러시아어|베트남어|태국어|아랍어|포르투갈어|"
              "スペイン語|イタリア語|ロシア語|ポルトガル語|アラビア語|ベトナム語|タイ語|意大利语|葡萄牙语|阿拉伯语|"
              "越南语|泰语|韩文|日文|法文|德文")
_TRANSLATION_CUE = re.compile(
    r"translat|trad[uú]|übersetz|verta(?:al|le)|перев[оеи]|перекл|přelož|tłumacz|翻[译譯訳]|訳|번역|ترجم|अनुवाद|"
    r"çevir|översätt|käännä|μετάφρ|\bdịch\b|terjemah|oversæt|oversett|תרגם|תתרגם|לתרגם|תרגום|অনুবাদ|แปล|"
    r"tafsiri|மொழிபெயர்|isalin|po angielsku|po niemiecku|po francusku|po hiszpańsku|como fica em|"
    r"\bsay\b[^.?!\n]{0,40}\bin\b|"
    r"c[oó]mo se dice|comment (?:dit-on|dire|on dit)|wie sagt man|come si dice|como se diz|как (?:сказать|будет)|"
    rf"怎么说|何と言|뭐라고|übertrag|\b(?:{_LANG})\b|\b(?:{_NATIVE_LANGS})|{_CJK_LANGS}|"
    r"\b[A-Za-z]{2}(?:-[A-Za-z]{2})?\s*(?:->|→|=>|>)\s*[A-Za-z]{2}\b", _I)


# A verb (or noun) of translating in one of 18 languages, and any language name: an explicit request to
# translate ("Przetłumacz na angielski: ...", "переведи на немецкий: ..."). No training query of another
# family matches both.
TRANSLATE_VERB = re.compile(r"translat|traduc|tradu[iz]|übersetz|vertaal|переведи|перевести|переведите|перевод|"
                            r"przetłumacz|tłumacz|翻译|翻譯|翻訳|訳し|訳す|번역|ترجم|çevir|översätt|अनुवाद|\bdịch\b|terjemah|"
                            r"תרגם|תתרגם|לתרגם|תרגום|অনুবাদ|แปล|tafsiri|переклад|перекласти|перекладіть|переклади|"
                            r"μετάφρ|přelož|மொழிபெயர்|isalin|isasalin|fordít|käännä|oversæt|oversett", _I)
ANY_LANGUAGE = re.compile(rf"\b(?:{_LANG})\b|\b(?:{_NATIVE_LANGS})|{_CJK_LANGS}", _I)
# "How do you say X in <language>?" in 8 languages: with a language name, a request to translate.
HOW_SAY = re.compile(r"\bhow (?:do|would|can) (?:you|i|we) say\b|c[oó]mo se dice|comment (?:dit-on|dire|on dit)|"
                      r"como fica em|[語语]で[^。？?\n]{0,8}言|"
                      r"\bjak\b[^?\n]{0,25}\bpo (?:angielsku|niemiecku|francusku|hiszpańsku|włosku)|"
                      r"wie sagt man|come si dice|como se diz|как (?:сказать|будет)|怎么说|怎麼說|何と言|뭐라고|hur säger man|"
                      r"hvordan (?:siger|sier) man|hoe zeg je|كيف (?:أقول|نقول|تقول)|چطور (?:بگویم|می‌گویند)|איך אומרים|"
                      r"कैसे (?:कहते|कहें)|nasıl denir|nói thế nào|πώς (?:λέγεται|λέμε)|hogy mondják|hogyan mondom|"
                      r"jak se řekne|cum se spune|miten sanotaan|paano sabihin", _I)


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


# "Which of the following" in 17 languages: with three or more numbered options, a multiple-choice question.
WHICH_OF_FOLLOWING = re.compile(
    r"which (?:one )?of (?:the following|these)|cuál de (?:los|las) siguientes|welche[rs]? der folgenden|"
    r"lequel des suivants|laquelle des suivantes|quale (?:dei|delle) seguenti|qual (?:dos|das) seguintes|"
    r"какой из следующих|какое из следующих|який з наведених|下列哪|以下哪|次のうち|다음 중|aşağıdakilerden hangisi|"
    r"który z poniższych|welke van de volgende|איזה מה|أي مما يلي|کدام یک از", _I)

# Words for program, function or script in 20 languages, and words of a failing program: next to the name of a
# programming language or framework, a code request (a weak cue: the rules decide only below the threshold).
PROGRAM_WORDS = re.compile(
    r"प्रोग्राम|फ़ंक्शन|फंक्शन|स्क्रिप्ट|ฟังก์ชัน|โปรแกรม|สคริปต์|funkc|функц|скрипт|函数|程序|脚本|関数|プログラム|"
    r"スクリプト|함수|프로그램|스크립트|تابع|برنامه|اسکریپت|دالة|برنامج|סקריפט|פונקציה|תוכנית|fonksiyon|fungsi|hàm|"
    r"chương trình|función|fonction|funzione|função|\bscripts?\b|\bprogram\b|программу|программа|програму|"
    r"програма|\berror|returns|not working|doesn't work|fails|exception|\bbug|\bcommand|команд|parancs|repositor|"
    r"репозитор|\brules?\b|\bbutton|tombol|кнопк|botón|bouton|widget", _I)

# "How much is", "what is the result of", "average", "solve" in 20 languages: with a digit, a math question.
MATH_WORDS = re.compile(r"ناتج|حاصل|میانگین|چقدر می|wie viel ist|wieviel ist|combien font|combien fait|cuánto es|"
                        r"quanto fa|quanto é|сколько будет|скільки буде|ile to jest|ile wynosi|kaç eder|berapa|"
                        r"bao nhiêu|等于多少|是多少|はいくつ|얼마|כמה זה|कितना होता|कितने होंगे|kolik je|cât face|πόσο κάνει|"
                        r"löse|résous|resuelve|risolvi|resolva|реши|розв'яж|rozwiąż|çöz|selesaikan|giải|解方程|を解|풀어|hur många|"
                        r"hur mycket|mennyi|hány|কত|کتنے|کتنا|چند درصد|faktori[aá]l|factorial|факториал", _I)


def states_format_in_other_language(query: str) -> bool:
    """True when the query states a length, case, phrase or word constraint in another language
    (`FORMAT_WORDS`, `COUNT_WORDS`, `PHRASE_WORDS`) and no count is a rate ("60 слов в минуту")."""
    found = any(p.search(query) for p in (FORMAT_WORDS, COUNT_WORDS, PHRASE_WORDS))
    return found and not PER_TIME.search(query)


# A factual question with a short answer, in 27 languages: "in which year", "who wrote / invented / founded",
# "what does X stand for", "the national flower", "what's the word for". With no other family in the query,
# an "other" question (the rules then take it over the router).
FACT_QUESTION = re.compile(
    r"\b(?:in )?(?:what|which) year\b|\bwho (?:wrote|composed|painted|directed|invented|discovered|founded|"
    r"won|was the first)\b|\bstands? for\b|\bfull form of\b|\babbreviation (?:of|for)\b|\bnational (?:flower|bird|"
    r"animal|poet|anthem|sport|dish|tree|emblem)\b|\bwhat(?:'s| is) the (?:word|term) for\b|"
    r"\bwhat(?:'s| is) it called when\b|"
    r"in welchem jahr|wer schrieb|wer komponierte|wer malte|wer erfand|wer entdeckte|wer gründete|wofür steht|"
    r"en quelle année|qui a écrit|qui a composé|qui a peint|qui a inventé|qui a découvert|qui a fondé|"
    r"en qué año|quién escribió|quién compuso|quién pintó|quién inventó|quién descubrió|quién fundó|"
    r"em que ano|quem escreveu|quem compôs|quem pintou|quem inventou|quem descobriu|quem fundou|"
    r"in (?:che|quale) anno|chi ha scritto|chi scrisse|chi ha composto|chi ha dipinto|chi ha inventato|"
    r"chi ha scoperto|chi ha fondato|in welk jaar|wie schreef|wie schilderde|wie vond .{1,30} uit|"
    r"w którym roku|kto napisał|kto skomponował|kto namalował|kto wynalazł|kto odkrył|kto założył|"
    r"ve? kterém roce|kdo napsal|kdo složil|kdo namaloval|kdo vynalezl|kdo objevil|kdo založil|"
    r"в каком году|кто написал|кто сочинил|кто нарисовал|кто изобр[её]л|кто открыл|кто основал|"
    r"как расшифровывается|[ву] якому році|хто написав|хто винайшов|хто відкрив|хто заснував|"
    r"hangi yıl|kim yazdı|kim yazmıştır|kim icat etti|kim keşfetti|kim kurdu|"
    r"في أي عام|في أي سنة|من كتب|من ألف|من اخترع|من اكتشف|من أسس|در چه سالی|در کدام سال|چه کسی (?:نوشت|اختراع|کشف|بنیان)|مخفف|"
    r"گل ملی|شاعر ملی|באיזו שנה|מי כתב|מי הלחין|מי צייר|מי המציא|מי גילה|מי ייסד|किस वर्ष|किस साल|किसने (?:लिखा|लिखी|बनाया|खोज|आविष्कार)|"
    r"राष्ट्रीय (?:फूल|पक्षी|कवि|पशु|खेल)|का पूरा नाम|کس سال|کس نے (?:لکھا|لکھی|ایجاد)|قومی (?:شاعر|پھول|جانور|کھیل)|কোন সালে|কে লিখেছে|"
    r"কে আবিষ্কার|জাতীয় (?:ফুল|পাখি|কবি|পশু)|哪一年|哪年|谁写|谁发明|谁发现|谁创立|的缩写|国花|何年に|(?:誰|だれ)が(?:書いた|発明|発見|作曲|描いた|設立)|"
    r"何の略|国花|몇 ?년에|누가 (?:썼|발명|발견|세웠)|의 약자|năm nào|ai (?:đã )?(?:viết|phát minh|phát hiện|sáng lập)|viết tắt|quốc hoa|"
    r"tahun berapa|siapa (?:yang )?(?:menulis|penulis|menemukan|mendirikan)|singkatan dari|bunga nasional|ปีใด|"
    r"ปีไหน|ใครเขียน|ใครประดิษฐ์|ใครค้นพบ|ย่อมาจาก|ดอกไม้ประจำชาติ|vilket år|vem (?:skrev|komponerade|målade|"
    r"uppfann|upptäckte|grundade)|hvilket år|hvem (?:skrev|komponerte|komponerede|malte|opfandt|oppfant)|"
    r"minä vuonna|kuka (?:kirjoitti|keksi|löysi|perusti)|melyik évben|ki írta|ki festette|ki találta fel|"
    r"ki fedezte fel|ki alapította|ποιο έτος|ποια χρονιά|ποιος (?:έγραψε|εφηύρε|ανακάλυψε|ίδρυσε)|în ce an|"
    r"cine a (?:scris|compus|pictat|inventat|descoperit|fondat)|mwaka gani|nani (?:aliandika|aligundua)|"
    r"anong taon|sino ang (?:sumulat|nag-imbento|nakatuklas)", _I)

# Asking for an opinion or advice, or for something to be written (imperatives only: "who wrote" is factual):
# never a short-answer "other" question.
NOT_FACTUAL = re.compile(
    r"\bwhat do you think\b|\bshould i\b|\bany (?:tips|advice)\b|\bwrite (?:me|a|an)\b|\b(?:a|an) (?:poem|story|"
    r"essay|letter|speech)\b|was hältst du|meinst du|soll ich|schreib|qu'en penses|tu penses|penses-tu|"
    r"devrais-je|écris|écrivez|écrire|poème|une histoire|raconte|qué opinas|crees que|debería|escribe|escríbeme|"
    r"escribir|poema|cuento|o que (?:você|tu) acha|escreva|escrever|secondo te|cosa ne pensi|dovrei|scrivi|"
    r"scrivere|poesia|racconto|wat vind je|moet ik|schrijf|как ты думаешь|стоит ли|посоветуй|напиши|стих|"
    r"рассказ|як ти думаєш|чи варто|порадь|co myślisz|czy powinienem|czy powinnam|napisz|wiersz|opowiadanie|"
    r"\bsence\b|yazar mısın|\byaz\b|şiir|hikaye|ما رأيك|هل يجب|انصحني|اكتب|قصيدة|قصة|بنویس|داستان|"
    r"מה דעתך|האם כדאי|כתוב|סיפור|आपकी राय|क्या मुझे|क्या करूँ|लिखो|लिखिए|कविता|कहानी|آپ کی رائے|کیا مجھے|"
    r"لکھیں|کہانی|আপনার মতে|লিখুন|你觉得|你認為|我应该|我該|写一|寫一|诗|故事|どう思|べきでしょうか|書いて|詩|物語|"
    r"어떻게 생각|해야 할까|써 ?줘|이야기|bạn nghĩ|có nên|làm sao để|hãy viết|viết (?:cho|một|giúp)|bài thơ|"
    r"câu chuyện|menurutmu|menurut kamu|sebaiknya|\btulis(?:kan)?\b|buatkan|puisi|cerita|คุณคิดว่า|ช่วยเขียน|"
    r"เขียนให้|บทกวี|นิทาน|vad tycker du|borde jag|\bskriv\b|\bdikt\b|berättelse|hva synes du|bør jeg|"
    r"mitä mieltä|pitäisikö|kirjoita|\bruno\b|tarina|mit gondolsz|érdemes|\bírj|történet|τι πιστεύεις|"
    r"γράψε|ποίημα|ιστορία|ce părere|ar trebui|\bscrie\b|poezie|poveste|unafikiri|\bandika\b|shairi|hadithi|"
    r"sa tingin mo|dapat ba|isulat mo|\btula\b|kuwento", _I)


def factual_cue(query: str) -> bool:
    """False when the query asks for an opinion, advice or a piece of writing (`NOT_FACTUAL`): the router's
    "other" (a short factual answer) is refused for it."""
    return not NOT_FACTUAL.search(query)
