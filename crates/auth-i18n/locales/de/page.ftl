# Jeder Text der Webseite, auf Deutsch.

page-title = Anmelden
language-chooser = Sprache
support = Fragen? Schreiben Sie an
