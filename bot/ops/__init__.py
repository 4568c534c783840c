"""Operating Homeroom: database backups and checks, health and status."""
