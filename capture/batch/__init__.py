"""Files in, files out: batch conversion to MP3 (convert) and WhatsApp voice-note import."""
