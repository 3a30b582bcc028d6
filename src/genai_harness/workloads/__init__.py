"""workloads of genai-harness."""
