"""Absences families report in the chat (`bot.flows.absence`): the school days a report can
cover (`days`), the table they are kept in (`store`), the notice the attendance office gets
through the outbox (`notice`) and the clerk's CSV export (`cli`: `homeroom absences export`)."""
