/* embed.c: the smallest program using the public inference API (simclr_model.h): loads a checkpoint, embeds one
 * JPEG or PNG file, prints the embedding's length and first values. Usage: simclr_example_embed CKPT IMAGE */
#include <stdio.h>
#include <stdlib.h>

#include "simclr_model.h"

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: %s CKPT.safetensors IMAGE\n", argv[0]), 2;
  FILE *f = fopen(argv[2], "rb");
  if (!f) return perror(argv[2]), 1;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  unsigned char *bytes = len > 0 ? malloc((size_t)len) : NULL;
  int ok = bytes && fread(bytes, 1, (size_t)len, f) == (size_t)len;
  fclose(f);
  if (!ok) return fprintf(stderr, "%s: cannot read\n", argv[2]), 1;
  sc_model_handle *m;
  sc_model_info info;
  if (sc_model_load(argv[1], &m) != SC_OK || sc_model_info_of(m, &info) != SC_OK)
    return fprintf(stderr, "%s\n", sc_last_error()), 1;
  float *h = malloc(sizeof(float) * (size_t)info.feature_dim);
  sc_status st = h ? sc_model_embed_image(m, bytes, (size_t)len, SC_EMBED_FEATURES, h, (size_t)info.feature_dim)
                   : SC_ENOMEM;
  if (st != SC_OK) fprintf(stderr, "%s: %s\n", argv[2], h ? sc_last_error() : "out of memory");
  else printf("%d features: %g %g %g ...\n", info.feature_dim, h[0], h[1], h[2]);
  free(h), free(bytes);
  sc_model_unload(m);
  return st == SC_OK ? 0 : 1;
}
