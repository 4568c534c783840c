"""The school's own calendar, for date questions ("is there school tomorrow?", "¿hay clases el lunes?").

`load` reads the iCalendar file or URL the school publishes (icalendar + recurring-ical-events),
`dates` finds the day a message asks about (curated date words, `date_words.yaml`), `closures`
keeps closures announced on the day (`homeroom closure add`), and `answer` says what that day is,
closures first. The engine calls `answer.CalendarAnswers` for the `school_calendar` and
`school_closure` intents; a message with no date keeps the catalog's answer.
"""
