# Every sentence of the mail, in English. The templates (auth-smtp/templates) place them.
# Variables: $product, $name (display name), $code, $length, $minutes, $hours, $link,
# $new_address, $passkey, $when, $device, $ip, $recovery ("yes" or "no"), $support, $contact (a support
# address, or "none").

## Common

greeting = Hello { $name },
greeting-neutral = Hello,
go-to = Go to { $product }
code-valid = The code has { $length } characters; the dashes only help reading. It is valid for { $minutes } minutes and works once.
seen-when = When
seen-device = Device
seen-ip = IP address
seen-ip-unknown = unknown
not-me = This wasn't me:
not-me-link = recover your account with a code sent to this address
support = Questions? Write to { $support }.

## Subjects

subject-signup-code = Your { $product } sign-up code: { $code }
subject-login-code = Your { $product } sign-in code: { $code }
subject-already-registered = You already have a { $product } account: sign-in code { $code }
subject-recovery-code = Your { $product } recovery code: { $code }
subject-email-change-code = Confirm your new email address for { $product }: { $code }
subject-no-account = No { $product } account for this email address
subject-email-change-taken = Someone tried to move a { $product } account to this email address
subject-email-changed = The email address of your { $product } account was changed
subject-account-deleted = Your { $product } account was deleted
subject-sign-in-notice = New sign-in to your { $product } account with an email code
subject-passkey-added = A passkey was added to your { $product } account
subject-passkey-removed = A passkey was removed from your { $product } account
subject-disabled-account = Your { $product } account is disabled
subject-account-disabled = Your { $product } account was disabled
subject-account-enabled = Your { $product } account was enabled again
subject-account-deleted-by-operator = Your { $product } account was deleted by an administrator

## Codes

signup-code-intro = Enter this code to confirm your email address and finish creating your { $product } account:
signup-code-where = Enter it in the window where you started signing up; you may read this email on another device.
signup-code-ignore = If you did not sign up for { $product }, ignore this email: no account is created without the code.

login-code-intro = Enter this code to sign in to { $product }:
login-code-where = Enter it in the window where you asked for it; you may read this email on another device.
login-code-ignore = If you did not try to sign in, ignore this email: nobody can sign in without the code. Never give the code to anyone; { $product } will never ask you for it.

already-registered-intro = Someone, probably you, tried to sign up for { $product } with this email address. You already have an account, so no new one was created.
already-registered-code = To sign in to your account instead, enter this code:
already-registered-where = Enter it in the window where you tried to sign up.
already-registered-ignore = If this was not you, ignore this email: nobody can sign in without the code.

recovery-code-intro = Enter this code to get back into your { $product } account, for example after losing the device that held your passkey:
recovery-code-where = Enter it in the window where you started the recovery. Once you are in, add a new passkey.
recovery-code-ignore = If you did not ask to recover your account, ignore this email and give the code to nobody: whoever has it can get into your account.

email-change-code-intro = Enter this code to confirm that your { $product } account should use this email address from now on:
email-change-code-where = Enter it in the window where you asked for the change.
email-change-code-ignore = If you did not ask for this change, ignore this email: the account keeps its current address.

## Notices

no-account-intro = Someone, probably you, tried to sign in to { $product } with this email address, but there is no { $product } account for it.
no-account-signup = If you meant to create an account, you can sign up now:
no-account-button = Sign up for { $product }
no-account-ignore = If your account uses another email address, sign in with that one. If this was not you, ignore this email.

email-change-taken-intro = Someone asked to move a { $product } account to this email address. This address already belongs to an account, so nothing was changed.
email-change-taken-what = If it was you, either sign in to the account that uses this address, or choose another address for the other account:
email-change-taken-ignore = If it was not you, ignore this email: your account is not affected.

email-changed-intro = The email address of your { $product } account was changed to { $new_address }. From now on, mail about the account, sign-in codes included, goes to the new address, and every other session of the account was signed out.
email-changed-yours = If you made this change, there is nothing more to do.
email-changed-undo = If you did not, undo it with this link:
email-changed-button = Undo the change
email-changed-after = Undoing moves the account back to this address, signs out every session (the one that made the change too) and removes the passkeys added in the day before the change or since. The link works once, for { $hours } hours. Then sign in again with this address and check your passkeys.

account-deleted-intro = Your { $product } account, with its passkeys, sessions and history, was deleted. This address no longer signs in to { $product }.
account-deleted-after = If you deleted it, there is nothing more to do. If you did not, someone else had access to your account: you can sign up again with this address, and check the security of your email account.

sign-in-notice-intro = Someone signed in to your { $product } account with { $recovery ->
        [yes] a recovery code
       *[no] an email code
    } sent to this address.
sign-in-notice-why = Your account has passkeys, so this is not how you usually sign in. If it was you, there is nothing more to do.
sign-in-notice-not-you = If it was not you, someone can read your email: secure your email account first, then sign in with a passkey, sign out every session and check your passkeys.

passkey-added-intro = A passkey named "{ $passkey }" was added to your { $product } account. It can now sign in to the account without a code.
passkey-added-yours = If you added it, there is nothing more to do.
passkey-added-not-you = If you did not, someone else may have access to your account: sign in, remove the passkey, and sign out your other sessions.

passkey-removed-intro = The passkey named "{ $passkey }" was removed from your { $product } account. It can no longer sign in to the account.
passkey-removed-yours = If you removed it, there is nothing more to do.
passkey-removed-not-you = If you did not, someone else may have access to your account: sign in, check your passkeys and sessions, and sign out your other sessions.

## Administration

disabled-account-intro = Someone, probably you, asked for a code to sign in to { $product } with this email address. The account of this address is disabled, so no code was sent: nobody can sign in to it.
disabled-account-ignore = If this was not you, ignore this email.
disabled-contact = { $contact ->
        [none] If you think this is a mistake, contact the people who run { $product }.
       *[other] If you think this is a mistake, write to { $contact }.
    }
account-disabled-intro = An administrator of { $product } disabled your account. Every session of it has ended, and nobody can sign in to it until it is enabled again. Its data is kept.
account-enabled-intro = An administrator of { $product } enabled your account again: you can sign in as before.
account-enabled-after = Sessions that ended when it was disabled stay ended, so sign in again on each device.
account-deleted-by-operator-intro = An administrator of { $product } deleted your account, with its passkeys, sessions and history. This address no longer signs in to { $product }.
