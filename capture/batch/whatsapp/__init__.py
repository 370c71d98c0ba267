"""WhatsApp voice notes: their names, chat text, export archives, the import plan, the import."""
