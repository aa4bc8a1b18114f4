"""Layout pieces shared by pages."""
