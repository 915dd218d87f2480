// The rotor binary: everything lives in the libraries so that tests can drive it.
#include <iostream>

#include "controller/cli/commands.h"

int main(int argc, char** argv) { return rotor::cli::run(argc, argv, std::cin, std::cout, std::cerr); }
