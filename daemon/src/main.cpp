#include "riskd/daemon/cli.hpp"

int main(int argc, char** argv) { return riskd::daemon::run_cli(argc, argv); }
