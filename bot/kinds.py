"""What a touchpoint can be, and who acts: the vocabulary of every customer's timeline.

Stored as their string values; docs/architecture.md lists them in one table (a test keeps the
table and this enum the same).
"""

from __future__ import annotations

from enum import StrEnum

# The timer that reads the messages held in a flood when the sender says nothing more: set by
# the core (bot/floods.py), read by the business (handlers/timers.py).
FLOOD_RELEASE_TIMER = "flood_release"


class Actor(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    REP = "rep"
    SYSTEM = "system"
    OPERATOR = "operator"  # a person at the command line or the console, outside a chat


class TouchpointKind(StrEnum):
    # messages
    CONVERSATION_OPENED = "conversation_opened"
    MESSAGE_IN = "message_in"
    MESSAGE_OUT = "message_out"
    MESSAGE_EDITED = "message_edited"
    DELIVERED = "delivered"
    FAILED = "failed"
    PARKED = "parked"
    IGNORED = "ignored"
    BUTTON_REJECTED = "button_rejected"
    MESSAGE_HELD = "message_held"
    # reachability and machine mail
    UNREACHABLE = "unreachable"
    REACHABLE_AGAIN = "reachable_again"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    GROUP_ADDRESSED = "group_addressed"
    BOUNCED = "bounced"
    DELAYED = "delayed"
    AUTO_REPLY_IGNORED = "auto_reply_ignored"
    BULK_IGNORED = "bulk_ignored"
    REPORT_IGNORED = "report_ignored"
    LOOP_IGNORED = "loop_ignored"
    REPLY_CAP_REACHED = "reply_cap_reached"
    # contacts
    IDENTITY_CONFLICT = "identity_conflict"
    CLAIM_MOVED = "claim_moved"
    IDENTITIES_LINKED = "identities_linked"  # a merge, as older versions recorded it
    CONTACTS_MERGED = "contacts_merged"
    CONTACTS_UNMERGED = "contacts_unmerged"
    OFFLINE_LOGGED = "offline_logged"  # a call, a meeting or a note a person recorded
    # leads
    CAMPAIGN_SOURCE = "campaign_source"
    LEAD_CAPTURED = "lead_captured"
    LEAD_INCOMPLETE = "lead_incomplete"
    LEAD_WAITING = "lead_waiting"
    LEAD_EXTENDED = "lead_extended"
    LEAD_AMENDED = "lead_amended"
    LEAD_OFFERED = "lead_offered"
    LEAD_ACCEPT_EXPIRED = "lead_accept_expired"
    LEAD_ESCALATED = "lead_escalated"
    LEAD_ACCEPTED = "lead_accepted"
    LEAD_ASSIGNED = "lead_assigned"
    LEAD_CONTACTED = "lead_contacted"
    LEAD_STATUS_CHANGED = "lead_status_changed"
    LEAD_NOTED = "lead_noted"
    LEAD_NEXT_STEP_SET = "lead_next_step_set"
    LEAD_NEXT_STEP_DUE = "lead_next_step_due"
    # service
    TICKET_OPENED = "ticket_opened"
    TICKET_UPDATED = "ticket_updated"
    TICKET_STATUS_CHANGED = "ticket_status_changed"
    TICKET_NOTED = "ticket_noted"
    STATUS_REQUESTED = "status_requested"
    FOLLOWUP_SCHEDULED = "followup_scheduled"
    FOLLOWUP_DUE = "followup_due"
    FOLLOWUP_SKIPPED = "followup_skipped"
    # satisfaction
    CSAT_ASKED = "csat_asked"
    CSAT_RATED = "csat_rated"
    CSAT_COMMENTED = "csat_commented"
    # hand-offs
    HANDOFF_REQUESTED = "handoff_requested"
    HANDOFF_QUEUED = "handoff_queued"
    HANDOFF_CANCELLED = "handoff_cancelled"
    HANDOFF_TIMED_OUT = "handoff_timed_out"
    NOBODY_AVAILABLE = "nobody_available"
    MESSAGE_PASSED_ON = "message_passed_on"
    REP_NOTIFIED = "rep_notified"
    CLAIM_EXPIRED = "claim_expired"
    ESCALATED = "escalated"
    REASSIGNED = "reassigned"
    ASSIGNMENT_FAILED = "assignment_failed"
    REP_CLAIMED = "rep_claimed"
    REP_MESSAGE = "rep_message"
    REP_REPLIED = "rep_replied"
    CUSTOMER_WAITING = "customer_waiting"
    CUSTOMER_REPLIED = "customer_replied"
    RELAY_DIGEST = "relay_digest"
    CLOSED = "closed"
    RETURNED_TO_BOT = "returned_to_bot"
    # reps, as managed by an operator
    REP_ADDED = "rep_added"
    REP_UPDATED = "rep_updated"
    REP_REMOVED = "rep_removed"
    LOGIN_LINK_SENT = "login_link_sent"  # a one-time console sign-in link went to a rep
    # keeping and forgetting
    PRUNED = "pruned"
    CONTACT_FORGOTTEN = "contact_forgotten"
    # timers
    TIMER_FAILED = "timer_failed"
    TIMER_UNKNOWN = "timer_unknown"


_K = TouchpointKind
# A conversation is active in a period when one of these is in it (counted from rollups kept
# by the turn that records them: storage/repos/activity.py).
ACTIVITY = (_K.MESSAGE_IN, _K.CONVERSATION_OPENED)
