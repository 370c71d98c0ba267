"""Chat-export shapes from many locales, platforms and eras, for tests/test_whatsapp_shapes.py.

Every line here is written for loopcap's tests (names, messages and notes are made up); only the
*shape* of each line (date order, separators, clock, markers, brackets, attachment wording,
file names) follows a public source, cited with each shape. Where a shape's attachment wording
was not in the source, it is marked "wording assumed": the importer keys on file names, not
words, so the word does not matter to the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RLM = "\u200f"
LRM = "\u200e"
NNBSP = "\u202f"
E2E = "Messages and calls are end-to-end encrypted."


@dataclass(frozen=True)
class Expected:
    note: str  # the note's file name in the export
    sender: str
    when: datetime


@dataclass(frozen=True)
class Shape:
    name: str
    source: str
    chat_file: str  # the chat text's name inside the zip
    text: str
    notes: tuple[Expected, ...]
    zip_name: str = "WhatsApp Chat.zip"


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


SHAPES: tuple[Shape, ...] = (
    Shape(
        "android-en_US-12h",
        "Pustur/whatsapp-chat-parser tests/unit/parser.test.ts (format list: 'm/d/yy, h:mm PM')",
        "WhatsApp Chat with Bob.txt",
        _lines(
            f"2/3/24, 9:15 AM - {E2E}",
            "2/3/24, 9:16 AM - Bob: PTT-20240203-WA0001.opus (file attached)",
            "2/3/24, 9:20 PM - Alice: PTT-20240203-WA0002.opus (file attached)",
        ),
        (
            Expected("PTT-20240203-WA0001.opus", "Bob", datetime(2024, 2, 3, 9, 16)),
            Expected("PTT-20240203-WA0002.opus", "Alice", datetime(2024, 2, 3, 21, 20)),
        ),
    ),
    Shape(
        "android-en_US-nnbsp",
        "ChatLab/ChatLab#131 (U+202F narrow no-break space before AM/PM)",
        "WhatsApp Chat with Sam.txt",
        _lines(
            f"11/5/23, 7:02{NNBSP}PM - Sam: PTT-20231105-WA0000.opus (file attached)",
            f"11/5/23, 11:58{NNBSP}PM - Sam: see you",
        ),
        (Expected("PTT-20231105-WA0000.opus", "Sam", datetime(2023, 11, 5, 19, 2)),),
    ),
    Shape(
        "android-en_GB-24h-seconds",
        "joweich/chat-miner test/whatsapp/test_dateformat6.txt ('21/10/21, 15:21:45 - Name:')",
        "WhatsApp Chat with Jo.txt",
        _lines(
            "21/10/21, 15:21:45 - Jo: PTT-20211021-WA0003.opus (file attached)",
            "22/10/21, 08:00:10 - Kim: ok : later",
        ),
        (Expected("PTT-20211021-WA0003.opus", "Jo", datetime(2021, 10, 21, 15, 21, 45)),),
    ),
    Shape(
        "android-de",
        "Duelion/whatsapp-wrapped#12 ('03.08.21, 12:30 - ...'); sinky/whatsapp-chat-export-viewer#2"
        " ('(Datei angehängt)')",
        "WhatsApp Chat mit Oma.txt",
        _lines(
            "03.08.21, 12:30 - Oma: PTT-20210803-WA0004.opus (Datei angehängt)",
            "04.08.21, 07:45 - Opa: Guten Morgen",
        ),
        (Expected("PTT-20210803-WA0004.opus", "Oma", datetime(2021, 8, 3, 12, 30)),),
    ),
    Shape(
        "android-es-p._m.",
        "rodrigogs/whats-reader#78 ('28/3/2025, 9:36 p. m. - user1: PTT-… (archivo adjunto)')",
        "Chat de WhatsApp con Lucía.txt",
        _lines(
            "28/3/2025, 9:36 p. m. - Lucía: PTT-20250328-WA0014.opus (archivo adjunto)",
            "29/3/2025, 1:23 a. m. - Pedro: PTT-20250329-WA0001.opus (archivo adjunto)",
        ),
        (
            Expected("PTT-20250328-WA0014.opus", "Lucía", datetime(2025, 3, 28, 21, 36)),
            Expected("PTT-20250329-WA0001.opus", "Pedro", datetime(2025, 3, 29, 1, 23)),
        ),
    ),
    Shape(
        "android-es-p.m.",
        "Pustur/whatsapp-chat-parser tests/unit/parser.test.ts ('23/06/2018, 01:55 p.m. - Loris:')",
        "Chat de WhatsApp con Loris.txt",
        _lines(
            "23/06/2018, 01:55 p.m. - Loris: PTT-20180623-WA0000.opus (archivo adjunto)",
            "23/06/2018, 01:57 a.m. - Luke: hola",
        ),
        (Expected("PTT-20180623-WA0000.opus", "Loris", datetime(2018, 6, 23, 13, 55)),),
    ),
    Shape(
        "android-en_CA-iso-dates",
        "dimagi/open-chat-studio#221 ('2023-12-20, 5:46 p.m. - Farid:', English (Canada))",
        "WhatsApp Chat with Farid.txt",
        _lines(
            "2023-12-20, 5:46 p.m. - Farid: PTT-20231220-WA0001.opus (file attached)",
            "2023-12-21, 9:01 a.m. - Dana: thanks",
        ),
        (Expected("PTT-20231220-WA0001.opus", "Farid", datetime(2023, 12, 20, 17, 46)),),
    ),
    Shape(
        "android-en_ZA-slashed-ymd",
        "dimagi/open-chat-studio#221 ('2023/12/20, 5:46 pm - Farid:', English (South Africa))",
        "WhatsApp Chat with Thabo.txt",
        _lines(
            "2023/12/20, 5:46 pm - Thabo: PTT-20231220-WA0002.opus (file attached)",
            "2023/12/20, 6:10 pm - Naledi: ok",
        ),
        (Expected("PTT-20231220-WA0002.opus", "Thabo", datetime(2023, 12, 20, 17, 46)),),
    ),
    Shape(
        "android-id-no-comma-dotted-time",
        "mtln/chat-export#28 ('30/08/25 18.00 - ...': no comma, '.' in the time)",
        "Chat WhatsApp dengan Budi.txt",
        _lines(
            "30/08/25 18.00 - Budi: PTT-20250830-WA0007.opus (file terlampir)",
            "31/08/25 07.15 - Sari: siap",
        ),
        (Expected("PTT-20250830-WA0007.opus", "Budi", datetime(2025, 8, 30, 18, 0)),),
    ),
    Shape(
        "android-fi-klo",
        "Pustur/whatsapp-chat-parser tests/unit/parser.test.ts ('13.6.2018 klo 21.25.15 - a: m')",
        "WhatsApp-keskustelu Aino.txt",
        _lines(
            "13.6.2018 klo 21.25 - Aino: PTT-20180613-WA0002.opus (tiedosto liitetty)",
            "14.6.2018 klo 6.05 - Eero: huomenta",
        ),
        (Expected("PTT-20180613-WA0002.opus", "Aino", datetime(2018, 6, 13, 21, 25)),),
    ),
    Shape(
        "android-ar-arabic-indic-digits",
        "mtln/chat-export#30, tests/test_arabic_locale.py (Arabic-Indic digits, U+200F after day "
        "and month, Arabic comma U+060C, 'م' for PM); 'ص' for AM: mtln/chat-export#30 summary",
        "محادثة واتساب مع عمار.txt",
        _lines(
            f"٢٤{RLM}/٤{RLM}/٢٠٢٢، ٢:٠٧ م - عمار: PTT-20220424-WA0011.opus (ملف مرفق)",
            f"٢٥{RLM}/٤{RLM}/٢٠٢٢، ٩:٣٠ ص - سلمى: PTT-20220425-WA0002.opus (ملف مرفق)",
        ),
        (
            Expected("PTT-20220424-WA0011.opus", "عمار", datetime(2022, 4, 24, 14, 7)),
            Expected("PTT-20220425-WA0002.opus", "سلمى", datetime(2022, 4, 25, 9, 30)),
        ),
    ),
    Shape(
        "android-fa-persian-digits",
        "JBGruber/rwhatsapp#28 ('۲۰۲۱/۵/۳۰، ۱۸:۴۴ - Sattar-b: ...': Persian digits, y/m/d, "
        "Arabic comma)",
        "WhatsApp Chat with Sattar.txt",
        _lines(
            "۲۰۲۱/۵/۳۰، ۱۸:۴۴ - Sattar-b: PTT-20210530-WA0003.opus (فایل پیوست)",
            "۲۰۲۱/۵/۳۰، ۱۸:۴۵ - شطرنج: سلام",
        ),
        (Expected("PTT-20210530-WA0003.opus", "Sattar-b", datetime(2021, 5, 30, 18, 44)),),
    ),
    Shape(
        "android-fa-12h-markers",
        "samanzamani/PersianDate#10 ('ق.ظ' / 'ب.ظ' for AM/PM); line shape as JBGruber/rwhatsapp#28",
        "WhatsApp Chat with Neda.txt",
        _lines(
            "۲۰۲۲/۱/۹، ۶:۱۲ ب.ظ - Neda: PTT-20220109-WA0001.opus (فایل پیوست)",
            "۲۰۲۲/۱/۱۰، ۸:۰۰ ق.ظ - Neda: PTT-20220110-WA0000.opus (فایل پیوست)",
        ),
        (
            Expected("PTT-20220109-WA0001.opus", "Neda", datetime(2022, 1, 9, 18, 12)),
            Expected("PTT-20220110-WA0000.opus", "Neda", datetime(2022, 1, 10, 8, 0)),
        ),
    ),
    Shape(
        "android-ko-marker-before-time",
        "ChatLab/ChatLab#281 (Korean 오전/오후 markers); 'YYYY. M. D.' dates: wording assumed",
        "WhatsApp Chat with 민수.txt",
        _lines("2025. 1. 2. 오후 3:04 - 민수: PTT-20250102-WA0001.opus (첨부 파일)"),
        (Expected("PTT-20250102-WA0001.opus", "민수", datetime(2025, 1, 2, 15, 4)),),
    ),
    Shape(
        "ios-en_US-12h",
        "tagatac/bagoup#7 ('<attached: 00000121-AUDIO-2021-02-01-15-16-19.opus>'); "
        "Pustur/whatsapp-chat-parser#199 ('[7/11/2017, 8:20:41 PM] someone:')",
        "_chat.txt",
        _lines(
            f"[10/13/25, 6:24:05 PM] Bob: {LRM}<attached: 00000028-AUDIO-2025-10-13-18-24-05.opus>",
            "[10/13/25, 6:25:00 PM] Ann: nice",
        ),
        (
            Expected(
                "00000028-AUDIO-2025-10-13-18-24-05.opus", "Bob", datetime(2025, 10, 13, 18, 24, 5)
            ),
        ),
        "WhatsApp Chat - Bob.zip",
    ),
    Shape(
        "ios-en_GB-nnbsp-pm",
        "ChatLab/ChatLab#131 ('[14/10/2021, 3:34:09 PM]' with U+202F before PM, iPhone export)",
        "_chat.txt",
        _lines(
            f"[14/10/2021, 3:34:09{NNBSP}PM] Wei: {LRM}"
            "<attached: 00000003-AUDIO-2021-10-14-15-34-09.opus>"
        ),
        (
            Expected(
                "00000003-AUDIO-2021-10-14-15-34-09.opus", "Wei", datetime(2021, 10, 14, 15, 34, 9)
            ),
        ),
        "WhatsApp Chat - Wei.zip",
    ),
    Shape(
        "ios-de-anhang",
        "rodrigogs/whats-reader#78 ('[07.03.26, 21:22:39] Chris:'); "
        "sinky/whatsapp-chat-export-viewer#2 ('<Anhang: 00000009-PHOTO-…>')",
        "_chat.txt",
        _lines(
            "[07.03.26, 21:22:38] Anna: Hallo",
            f"[07.03.26, 21:22:39] Chris: {LRM}<Anhang: 00000009-AUDIO-2026-03-07-21-22-39.opus>",
        ),
        (
            Expected(
                "00000009-AUDIO-2026-03-07-21-22-39.opus", "Chris", datetime(2026, 3, 7, 21, 22, 39)
            ),
        ),
        "WhatsApp Chat - Chris.zip",
    ),
    Shape(
        "ios-en_GB-no-comma",
        "mrmelon54/WhatsAppExportViewer-v0#2 ('[31/12/2022 11:40:26] John Doe: <attached: …>')",
        "_chat.txt",
        _lines(
            "[31/12/2022 11:40:26] John Doe: <attached: 00000001-AUDIO-2022-12-31-11-40-26.opus>",
            "[31/12/2022 11:45:07] Jane Doe: Hi!",
        ),
        (
            Expected(
                "00000001-AUDIO-2022-12-31-11-40-26.opus",
                "John Doe",
                datetime(2022, 12, 31, 11, 40, 26),
            ),
        ),
        "WhatsApp Chat - John Doe.zip",
    ),
    Shape(
        "ios-tr-single-digit-day",
        "mtln/chat-export#16 ('[5.05.2017 18:01:54] Bora: ...'); attachment wording assumed",
        "_chat.txt",
        _lines(
            "[5.05.2017 18:01:12] mezun A: Selam",
            f"[5.05.2017 18:01:54] Bora: {LRM}<ek: 00000002-AUDIO-2017-05-05-18-01-54.opus>",
        ),
        (
            Expected(
                "00000002-AUDIO-2017-05-05-18-01-54.opus", "Bora", datetime(2017, 5, 5, 18, 1, 54)
            ),
        ),
        "WhatsApp Sohbeti - Bora.zip",
    ),
    Shape(
        "ios-zh-ymd-no-space-after-colon",
        "ChatLab/ChatLab#281 ('[2026/7/9 02:28:09] Alice: Hey', 'Bob:Hi'); wording assumed",
        "_chat.txt",
        _lines(
            f"[2026/7/9 02:28:09] Alice: {LRM}<附件：00000004-AUDIO-2026-07-09-02-28-09.opus>",
            f"[2026/7/9 02:29:10] Bob:{LRM}<附件：00000005-AUDIO-2026-07-09-02-29-10.opus>",
        ),
        (
            Expected(
                "00000004-AUDIO-2026-07-09-02-28-09.opus", "Alice", datetime(2026, 7, 9, 2, 28, 9)
            ),
            Expected(
                "00000005-AUDIO-2026-07-09-02-29-10.opus", "Bob", datetime(2026, 7, 9, 2, 29, 10)
            ),
        ),
        "WhatsApp Chat - Alice.zip",
    ),
    Shape(
        "ios-es-lrm-p._m.",
        "Pustur/whatsapp-chat-parser tests/unit/parser.test.ts (format7/8: "
        "'[3/6/18 1:55:00 p. m.]', a U+200E before the line)",
        "_chat.txt",
        _lines(
            f"{LRM}[3/6/18 1:55:00 p. m.] Ana: {LRM}"
            "<adjunto: 00000042-AUDIO-2018-06-03-13-55-00.opus>"
        ),
        (Expected("00000042-AUDIO-2018-06-03-13-55-00.opus", "Ana", datetime(2018, 6, 3, 13, 55)),),
        "Chat de WhatsApp - Ana.zip",
    ),
    Shape(
        "ios-en_US-mdy-24h-tilde-name",
        "lucasrodes/whatstk#139 ('[12/27/20, 18:51:14] … [7/18/21, 18:34:07] ~ Nev:')",
        "_chat.txt",
        _lines(
            "[12/27/20, 18:51:14] My Group: " + E2E,
            f"[7/18/21, 18:34:07] ~ Nev: {LRM}<attached: 00000017-AUDIO-2021-07-18-18-34-07.opus>",
        ),
        (
            Expected(
                "00000017-AUDIO-2021-07-18-18-34-07.opus", "~ Nev", datetime(2021, 7, 18, 18, 34, 7)
            ),
        ),
        "WhatsApp Chat - My Group.zip",
    ),
    Shape(
        "ios-spaced-attached",
        "Pustur/whatsapp-chat-parser tests/unit/parser.test.ts "
        "('< attached: 00000042-PHOTO-….jpg >')",
        "_chat.txt",
        _lines("[3/6/18, 1:55:00 PM] a: < attached: 00000043-AUDIO-2018-03-06-13-55-00.opus >"),
        (Expected("00000043-AUDIO-2018-03-06-13-55-00.opus", "a", datetime(2018, 3, 6, 13, 55)),),
        "WhatsApp Chat - a.zip",
    ),
    Shape(
        "ios-2014-legacy-12h",
        "nmoya/whatsapp-parser#4 (older exports: '3/24/14, 1:59:59 PM: Sender Name: Message'); "
        "'NAME <‎attached>' and YYYY-MM-DD-AUDIO-NNNNNNNN names: loopcap issue 14",
        "_chat.txt",
        _lines(
            "3/24/14, 1:59:59 PM: Sender Name: 2014-03-24-AUDIO-00000012.opus <\u200eattached>",
            "3/24/14, 2:03:10 PM: Other One: ok",
        ),
        (
            Expected(
                "2014-03-24-AUDIO-00000012.opus", "Sender Name", datetime(2014, 3, 24, 13, 59, 59)
            ),
        ),
        "WhatsApp Chat - Sender Name.zip",
    ),
    Shape(
        "ios-2014-legacy-24h",
        "nmoya/whatsapp-parser#4 ('24/3/14, 13:59:59: Sender Name: Message'); attachments as above",
        "_chat.txt",
        _lines(
            "24/3/14, 13:59:59: Maria: 2014-03-24-AUDIO-00000013.opus <\u200eattached>",
            "25/3/14, 08:00:00: João: bom dia",
        ),
        (Expected("2014-03-24-AUDIO-00000013.opus", "Maria", datetime(2014, 3, 24, 13, 59, 59)),),
        "WhatsApp Chat - Maria.zip",
    ),
    Shape(
        "ios-2012-legacy-four-digit-year",
        "nmoya/whatsapp-parser#4 ('09/12/2012 17:03:48: Sender Name: Message'); attachments as "
        "above",
        "_chat.txt",
        _lines("09/12/2012 17:03:48: Sender: 2012-12-09-AUDIO-00000003.opus <\u200eattached>"),
        (Expected("2012-12-09-AUDIO-00000003.opus", "Sender", datetime(2012, 12, 9, 17, 3, 48)),),
        "WhatsApp Chat - Sender.zip",
    ),
    Shape(
        "legacy-dotted-date-and-time",
        "Pustur/whatsapp-chat-parser tests/unit/parser.test.ts "
        "(format3: '13.06.18 21.25.15: a: m')",
        "_chat.txt",
        _lines("13.06.18 21.25.15: Jan: 2018-06-13-AUDIO-00000001.opus <\u200eattached>"),
        (Expected("2018-06-13-AUDIO-00000001.opus", "Jan", datetime(2018, 6, 13, 21, 25, 15)),),
        "WhatsApp Chat - Jan.zip",
    ),
)
