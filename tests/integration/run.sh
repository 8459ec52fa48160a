#!/bin/sh
echo "1..0 # SKIP integration tests being written"
