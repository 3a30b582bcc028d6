"""results of genai-harness."""
