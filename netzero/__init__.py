"""Net zero for factories: facilities, verified emission inventories, claims covered by retirements,
and certificates anyone can verify. Above `registry/` and `verification/`; below `api/` and `web/`."""
