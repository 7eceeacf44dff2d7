# Jeder Satz der Mails, auf Deutsch. Die Vorlagen (auth-smtp/templates) setzen sie ein.
# Variablen wie in en/mail.ftl.

## Allgemein

greeting = Hallo { $name },
greeting-neutral = Hallo,
go-to = Zu { $product }
code-valid = Der Code hat { $length } Zeichen; die Bindestriche dienen nur dem Lesen. Er gilt { $minutes } Minuten und funktioniert einmal.
seen-when = Wann
seen-device = Gerät
seen-ip = IP-Adresse
seen-ip-unknown = unbekannt
not-me = Das war ich nicht:
not-me-link = Konto mit einem Code an diese Adresse wiederherstellen
support = Fragen? Schreiben Sie an { $support }.

## Betreffzeilen

subject-signup-code = Ihr Registrierungscode für { $product }: { $code }
subject-login-code = Ihr Anmeldecode für { $product }: { $code }
subject-already-registered = Sie haben schon ein Konto bei { $product }: Anmeldecode { $code }
subject-recovery-code = Ihr Wiederherstellungscode für { $product }: { $code }
subject-email-change-code = Bestätigen Sie Ihre neue E-Mail-Adresse für { $product }: { $code }
subject-no-account = Kein Konto bei { $product } für diese E-Mail-Adresse
subject-email-change-taken = Jemand wollte ein Konto bei { $product } auf diese E-Mail-Adresse umziehen
subject-email-changed = Die E-Mail-Adresse Ihres Kontos bei { $product } wurde geändert
subject-account-deleted = Ihr Konto bei { $product } wurde gelöscht
subject-sign-in-notice = Neue Anmeldung bei Ihrem Konto bei { $product } mit einem E-Mail-Code
subject-passkey-added = Ihrem Konto bei { $product } wurde ein Passkey hinzugefügt
subject-passkey-removed = Aus Ihrem Konto bei { $product } wurde ein Passkey entfernt
subject-disabled-account = Ihr Konto bei { $product } ist gesperrt
subject-account-disabled = Ihr Konto bei { $product } wurde gesperrt
subject-account-enabled = Ihr Konto bei { $product } wurde wieder freigegeben
subject-account-deleted-by-operator = Ihr Konto bei { $product } wurde von einem Administrator gelöscht

## Codes

signup-code-intro = Geben Sie diesen Code ein, um Ihre E-Mail-Adresse zu bestätigen und Ihr Konto bei { $product } fertig anzulegen:
signup-code-where = Geben Sie ihn in dem Fenster ein, in dem Sie die Registrierung begonnen haben; diese E-Mail dürfen Sie auf einem anderen Gerät lesen.
signup-code-ignore = Wenn Sie sich nicht bei { $product } registriert haben, ignorieren Sie diese E-Mail: Ohne den Code wird kein Konto angelegt.

login-code-intro = Geben Sie diesen Code ein, um sich bei { $product } anzumelden:
login-code-where = Geben Sie ihn in dem Fenster ein, in dem Sie ihn angefordert haben; diese E-Mail dürfen Sie auf einem anderen Gerät lesen.
login-code-ignore = Wenn Sie sich nicht anmelden wollten, ignorieren Sie diese E-Mail: Ohne den Code kann sich niemand anmelden. Geben Sie den Code niemandem; { $product } wird Sie nie danach fragen.

already-registered-intro = Jemand, wahrscheinlich Sie, wollte sich mit dieser E-Mail-Adresse bei { $product } registrieren. Sie haben schon ein Konto, daher wurde kein neues angelegt.
already-registered-code = Um sich stattdessen bei Ihrem Konto anzumelden, geben Sie diesen Code ein:
already-registered-where = Geben Sie ihn in dem Fenster ein, in dem Sie sich registrieren wollten.
already-registered-ignore = Wenn Sie das nicht waren, ignorieren Sie diese E-Mail: Ohne den Code kann sich niemand anmelden.

recovery-code-intro = Geben Sie diesen Code ein, um wieder in Ihr Konto bei { $product } zu kommen, zum Beispiel nachdem Sie das Gerät mit Ihrem Passkey verloren haben:
recovery-code-where = Geben Sie ihn in dem Fenster ein, in dem Sie die Wiederherstellung begonnen haben. Sobald Sie angemeldet sind, fügen Sie einen neuen Passkey hinzu.
recovery-code-ignore = Wenn Sie keine Wiederherstellung angefordert haben, ignorieren Sie diese E-Mail und geben Sie den Code niemandem: Wer ihn hat, kommt in Ihr Konto.

email-change-code-intro = Geben Sie diesen Code ein, um zu bestätigen, dass Ihr Konto bei { $product } ab jetzt diese E-Mail-Adresse verwendet:
email-change-code-where = Geben Sie ihn in dem Fenster ein, in dem Sie die Änderung angefordert haben.
email-change-code-ignore = Wenn Sie diese Änderung nicht angefordert haben, ignorieren Sie diese E-Mail: Das Konto behält seine bisherige Adresse.

## Hinweise

no-account-intro = Jemand, wahrscheinlich Sie, wollte sich mit dieser E-Mail-Adresse bei { $product } anmelden, aber für sie gibt es kein Konto bei { $product }.
no-account-signup = Wenn Sie ein Konto anlegen wollten, können Sie sich jetzt registrieren:
no-account-button = Bei { $product } registrieren
no-account-ignore = Wenn Ihr Konto eine andere E-Mail-Adresse verwendet, melden Sie sich mit dieser an. Wenn Sie das nicht waren, ignorieren Sie diese E-Mail.

email-change-taken-intro = Jemand wollte ein Konto bei { $product } auf diese E-Mail-Adresse umziehen. Diese Adresse gehört schon zu einem Konto, daher wurde nichts geändert.
email-change-taken-what = Wenn Sie es waren, melden Sie sich entweder bei dem Konto mit dieser Adresse an, oder wählen Sie für das andere Konto eine andere Adresse:
email-change-taken-ignore = Wenn Sie es nicht waren, ignorieren Sie diese E-Mail: Ihr Konto ist nicht betroffen.

email-changed-intro = Die E-Mail-Adresse Ihres Kontos bei { $product } wurde in { $new_address } geändert. Ab jetzt gehen Mails zum Konto, auch Anmeldecodes, an die neue Adresse, und jede andere Sitzung des Kontos wurde abgemeldet.
email-changed-yours = Wenn Sie diese Änderung vorgenommen haben, ist nichts weiter zu tun.
email-changed-undo = Wenn nicht, machen Sie sie mit diesem Link rückgängig:
email-changed-button = Änderung rückgängig machen
email-changed-after = Das Rückgängigmachen zieht das Konto auf diese Adresse zurück, meldet jede Sitzung ab (auch die, die die Änderung vorgenommen hat) und entfernt die Passkeys, die am Tag vor der Änderung oder seitdem hinzugefügt wurden. Der Link funktioniert einmal, { $hours } Stunden lang. Melden Sie sich danach mit dieser Adresse wieder an und prüfen Sie Ihre Passkeys.

account-deleted-intro = Ihr Konto bei { $product } wurde mit seinen Passkeys, Sitzungen und seinem Verlauf gelöscht. Diese Adresse meldet sich nicht mehr bei { $product } an.
account-deleted-after = Wenn Sie es gelöscht haben, ist nichts weiter zu tun. Wenn nicht, hatte jemand anderes Zugang zu Ihrem Konto: Sie können sich mit dieser Adresse neu registrieren, und prüfen Sie die Sicherheit Ihres E-Mail-Kontos.

sign-in-notice-intro = Jemand hat sich bei Ihrem Konto bei { $product } mit { $recovery ->
        [yes] einem Wiederherstellungscode
       *[no] einem E-Mail-Code
    } an diese Adresse angemeldet.
sign-in-notice-why = Ihr Konto hat Passkeys, Sie melden sich also normalerweise nicht so an. Wenn Sie es waren, ist nichts weiter zu tun.
sign-in-notice-not-you = Wenn Sie es nicht waren, kann jemand Ihre E-Mails lesen: Sichern Sie zuerst Ihr E-Mail-Konto, melden Sie sich dann mit einem Passkey an, melden Sie jede Sitzung ab und prüfen Sie Ihre Passkeys.

passkey-added-intro = Ihrem Konto bei { $product } wurde ein Passkey namens „{ $passkey }“ hinzugefügt. Er kann sich jetzt ohne Code beim Konto anmelden.
passkey-added-yours = Wenn Sie ihn hinzugefügt haben, ist nichts weiter zu tun.
passkey-added-not-you = Wenn nicht, hat vielleicht jemand anderes Zugang zu Ihrem Konto: Melden Sie sich an, entfernen Sie den Passkey und melden Sie Ihre anderen Sitzungen ab.

passkey-removed-intro = Der Passkey namens „{ $passkey }“ wurde aus Ihrem Konto bei { $product } entfernt. Er kann sich nicht mehr beim Konto anmelden.
passkey-removed-yours = Wenn Sie ihn entfernt haben, ist nichts weiter zu tun.
passkey-removed-not-you = Wenn nicht, hat vielleicht jemand anderes Zugang zu Ihrem Konto: Melden Sie sich an, prüfen Sie Ihre Passkeys und Sitzungen und melden Sie Ihre anderen Sitzungen ab.

## Verwaltung

disabled-account-intro = Jemand, wahrscheinlich Sie, hat mit dieser E-Mail-Adresse einen Code zur Anmeldung bei { $product } angefordert. Das Konto dieser Adresse ist gesperrt, deshalb wurde kein Code gesendet: Niemand kann sich bei ihm anmelden.
disabled-account-ignore = Wenn Sie das nicht waren, ignorieren Sie diese E-Mail.
disabled-contact = { $contact ->
        [none] Wenn Sie das für einen Fehler halten, wenden Sie sich an die Betreiber von { $product }.
       *[other] Wenn Sie das für einen Fehler halten, schreiben Sie an { $contact }.
    }
account-disabled-intro = Ein Administrator von { $product } hat Ihr Konto gesperrt. Alle seine Sitzungen wurden beendet, und niemand kann sich bei ihm anmelden, bis es wieder freigegeben wird. Seine Daten bleiben erhalten.
account-enabled-intro = Ein Administrator von { $product } hat Ihr Konto wieder freigegeben: Sie können sich wie bisher anmelden.
account-enabled-after = Sitzungen, die mit der Sperre endeten, bleiben beendet; melden Sie sich auf jedem Gerät neu an.
account-deleted-by-operator-intro = Ein Administrator von { $product } hat Ihr Konto mit seinen Passkeys, Sitzungen und seinem Verlauf gelöscht. Diese Adresse meldet sich nicht mehr bei { $product } an.
