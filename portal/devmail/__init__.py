"""Development only: a mailbox page listing every mail the worker delivered."""
