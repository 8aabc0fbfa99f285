"""The enrolment service of one organisation's CA: register, enrol, reenrol, revoke, CRL."""
