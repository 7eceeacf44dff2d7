# Jeder Text der Webseite, auf Deutsch.

page-title = Anmelden
