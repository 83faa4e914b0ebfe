// The dreamdpo command line: parses arguments and calls the library. Nothing else lives here.
#include <cstdio>
#include <exception>

#include "core/error.h"

int main(int argc, char** argv) {
  try {
    std::fprintf(stderr, "dreamdpo: no commands yet\n");
    return 1;
  } catch (const dreamdpo::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
