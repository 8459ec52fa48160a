/* What the rest of Floe needs from the ActiveSync e-mail commands: the
 * delivery object SendMail, SmartReply and SmartForward submit through.
 * worker.c calls eas_mail_set_delivery once its delivery object exists
 * (one worker per process, so the pointer is per worker). */
#ifndef FLOE_EAS_MAIL_H
#define FLOE_EAS_MAIL_H

struct delivery;

/* Until it is set (or after it is set to NULL at shutdown), SendMail
 * answers Status 110 (message submission failed) and logs why. */
void eas_mail_set_delivery(struct delivery *d);

#endif
