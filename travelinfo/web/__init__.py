"""The commuters' website: routes, rendering, filters, sv/en texts."""
