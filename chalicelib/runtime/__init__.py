"""What every entry point shares at run time: settings, structured logging, the background prefetch."""
