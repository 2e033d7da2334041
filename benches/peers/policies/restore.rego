# The default restore blockers of rules/default-restore.v1.yaml (F1-F4,
# F10-F12), written once more in Rego for the peer benchmarks
# (benches/peers). Only allow/deny and which blockers fire are encoded.
#
# Input (built by the caller from the engine's Facts):
#   actor:     { present: bool, roles: [string] }
#   member:    { deletion: string, removed_from_list: bool,
#                deleted_for_seconds: number }   # evaluation time - deletion time
#   tenant:    { plan: string, seats_total: number, seats_used: number }
#   conflicts: { user_id: [string], phone: [string], email: [string] }
#
# `deny` is the set of blocker ids that hold (the rule ids of the YAML
# policy); `decision` bundles it with `allow` so that one evaluation gives both.
package restore

import rego.v1

restore_roles := {"primary_admin"}

restore_window_seconds := 2592000 # 30 days

seat_blocking_plans := {"pro", "enterprise"}

# F1: only primary administrators may restore. No actor is a read-only
# eligibility question: F1 is not checked.
deny contains "actor_not_permitted" if {
	input.actor.present
	not actor_has_restore_role
}

actor_has_restore_role if {
	some role in input.actor.roles
	role in restore_roles
}

# F2: restorable while deleted for at most 30 days.
deny contains "window_expired" if {
	input.member.deleted_for_seconds > restore_window_seconds
}

# F3: not while the deletion process is still running.
deny contains "deletion_in_progress" if {
	input.member.deletion == "in_progress"
}

# F4: removed from the Deleted Members list: permanently deleted.
deny contains "removed_from_list" if {
	input.member.removed_from_list
}

# F10: a free seat is required on the Pro and Enterprise plans only.
deny contains "no_available_seat" if {
	input.tenant.plan in seat_blocking_plans
	input.tenant.seats_total - input.tenant.seats_used <= 0
}

# F11: an active member already has the user id.
deny contains "duplicate_user_id" if {
	count(input.conflicts.user_id) > 0
}

# F12: an active member already uses the phone number.
deny contains "duplicate_phone" if {
	count(input.conflicts.phone) > 0
}

# F12: an active member already uses the email address.
deny contains "duplicate_email" if {
	count(input.conflicts.email) > 0
}

allow := count(deny) == 0

decision := {"allow": allow, "deny": deny}
