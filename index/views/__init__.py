"""Views of the catalog's photos as shoppers photograph their products: cut out, pasted into rooms, embedded."""
