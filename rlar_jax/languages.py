"""Language names and their ISO 639-1 codes, shared by the data loaders and the query analysis.

A leaf module (imports nothing from the package), so the data layer can read it without importing the
reward system.
"""

from __future__ import annotations

LANGUAGES: dict[str, str] = {
    "english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it", "portuguese": "pt",
    "dutch": "nl", "russian": "ru", "chinese": "zh", "mandarin": "zh", "japanese": "ja", "korean": "ko",
    "czech": "cs", "polish": "pl", "ukrainian": "uk", "arabic": "ar", "hindi": "hi", "turkish": "tr",
    "swedish": "sv", "finnish": "fi", "greek": "el", "hebrew": "he", "croatian": "hr", "icelandic": "is",
    "estonian": "et", "romanian": "ro", "vietnamese": "vi", "indonesian": "id", "danish": "da",
    "latin": "la", "swahili": "sw", "thai": "th", "bengali": "bn", "persian": "fa", "farsi": "fa", "urdu": "ur",
    "tamil": "ta", "tagalog": "tl", "filipino": "tl", "malay": "ms", "norwegian": "no", "hungarian": "hu",
    "catalan": "ca", "serbian": "sr", "bulgarian": "bg", "slovak": "sk",
}
