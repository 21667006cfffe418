"""Who may call the API: clients, their keys and scopes, the route -> scope table, and the audit trail."""
