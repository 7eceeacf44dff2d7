# Every string of the web page, in English. The page fills `{name}` placeholders itself.

page-title = Sign in
language-chooser = Language
support = Questions? Write to
